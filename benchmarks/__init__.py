"""Benchmarks (`make bench`): a harness that prints figures for this machine, not timed tests."""
