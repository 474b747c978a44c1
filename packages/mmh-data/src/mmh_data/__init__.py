"""Labelled structures for many heads: readers, neighbour lists, graphs, statistics, replay selection, streaming and the bundled datasets of mmh."""

__version__ = "0.1.0"
