"""What each command group prints: domain results as tables, lines or JSON, via render."""
