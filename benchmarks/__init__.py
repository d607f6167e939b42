"""Benchmarks: run ``python -m benchmarks`` (or ``make bench``)."""
