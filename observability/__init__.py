"""Metrics and logs: what an on-call engineer reads (docs/observability.md)."""
