"""Benchmarks: scripts that print their figures (never timing assertions in tests)."""
