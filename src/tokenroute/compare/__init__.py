"""Compare, `tokenroute compare`: the same examples on each candidate model, judged, and
the cost per *successful* task on each side.

examples (the file) -> plan (the calls and their estimated cost) -> trial (every call
dispatched, concurrently, each pair a task in the ledger) with judging (was it right?) ->
scores (success with its interval, cost per success, the verdict).
"""
