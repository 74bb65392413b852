"""Application glue for Xingtu: the job layer, the command line, saved state and file exports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xingtu")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
