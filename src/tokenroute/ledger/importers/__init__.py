"""Importers: one module per foreign log format, plus the incremental file reader they share."""
