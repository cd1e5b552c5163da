"""ferbench: honest benchmarks for facial expression recognition model families."""

__version__ = "0.1.0"
