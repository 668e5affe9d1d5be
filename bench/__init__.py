"""Benchmarks (run through make targets, not by the test suite)."""
