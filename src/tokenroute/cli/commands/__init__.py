"""One module per command group: options parsed, one call into its part, its view."""
