"""initlab: a tracked laboratory for neural-network weight initialization."""

__version__ = "0.1.0"
