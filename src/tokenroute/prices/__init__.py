"""Prices: the versioned tables (table, table_parsing, safe YAML in yaml_files), the cost
engine (cost), token counts (tokens), estimates, and LiteLLM's price file converted."""
