"""The version of kerasner."""

__version__ = "0.1.0"
