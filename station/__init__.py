"""CCCD reader station: reads Vietnamese chip ID cards at a ward counter."""

__version__ = "0.1.0"
