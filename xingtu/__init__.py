"""Application glue for Xingtu: the command line, saved state in a database, and file exports."""

__version__ = "0.1.0"
