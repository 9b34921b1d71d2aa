"""The command line: the typer app (app.py), one module per command group (commands/), what
each group prints (views/), and the error boundary. Nothing below the CLI imports it.

Kept empty: pick's fast path (fast_pick.py) comes through here without importing typer.
"""
