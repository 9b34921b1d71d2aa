"""Dispatch, `tokenroute run`: send a prompt to the model the task needs and log every try.

session (end to end) -> choice (the model ladder), spending (budgets), conversation (-c),
attempts (retries, escalation; answers checks a reply) -> providers (the wire formats).
Endpoints, keys, config and doctor say where providers are and whether they can be reached.
"""
