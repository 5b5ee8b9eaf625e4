"""Benchmarks run against the local stack (``uv run python -m bench.<name>``)."""
