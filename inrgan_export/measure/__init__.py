"""Measurement helpers shared by `benchmarks/` and the bench command."""
