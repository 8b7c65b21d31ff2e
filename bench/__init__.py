"""Benchmarks: each compares gitopsd against a peer or a physical limit in the same run."""
