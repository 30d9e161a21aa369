"""Benchmarks (`make bench`): print numbers, assert nothing."""
