"""Benchmarks of mmh that take any ASE calculator: physicality, speed, molecular and materials tests, the paper's score."""

__version__ = "0.1.0"
