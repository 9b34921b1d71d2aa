"""Storage, SQL only: the schema and its migrations, the ledger file (sqlite), rows and the
summaries kept with them (rows, bulk), repricing, and the report's queries. The one other
SQL in tokenroute reads llm's own logs.db (ledger/importers/llm_logs.py), read-only."""
