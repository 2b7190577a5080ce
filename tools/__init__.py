"""Operators' tools: `python -m tools.<name>`, run against a deployment from a checkout."""
