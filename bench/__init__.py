"""Benchmarks, run by hand (`make bench`); their figures go in the README."""
