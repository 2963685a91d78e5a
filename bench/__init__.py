"""Benchmarks (timing and memory targets live here, never in the tests)."""
