"""Adapters to storage. `sqlite.py` is the only module that knows SQL."""
