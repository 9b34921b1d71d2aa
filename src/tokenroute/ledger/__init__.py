"""The ledger's meaning: calls and their usage (calls, usage_formats, intake for `record`),
what they cost per task (report), budgets, repricing, hand edits, the importers of other
tools' logs, and the reads each command makes (queries). The SQL is in storage."""
