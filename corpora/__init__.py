"""Hand-written message corpora the reply classifier (domain.inbound) is measured against:
asserted case by case in tests/domain/test_inbound.py, scored as a whole by
`python -m bench.ooo_corpus`. Data, not code under test."""
