"""Data: pair discovery, training datasets."""
