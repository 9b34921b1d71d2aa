"""The advisor, `tokenroute pick`: which tier and models a task needs, and why.

classifier (which kind of task) -> policy (its tier) -> router (words, answers, models,
reasons), with learning (what the ledger's outcomes say); pick runs it end to end.
"""
