"""golong-data: build long-context RLVR data (the GoLongRL recipe) and train on it."""

__version__ = "0.1.0"
