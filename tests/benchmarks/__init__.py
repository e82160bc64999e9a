"""Throughput benchmarks on the real stack: ``uv run python -m tests.benchmarks.run`` (see README.md)."""
