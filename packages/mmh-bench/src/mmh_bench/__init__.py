"""Benchmarks of mmh that take any ASE calculator: physicality, speed, molecular and materials
tests, the paper's score.

Not implemented yet: the package holds what it needs to build and install.
"""

__version__ = "0.1.0"
