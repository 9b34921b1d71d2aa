"""The tiers and task types every layer agrees on. Plain tuples: cheap to import at start-up."""

# Cheapest first. `local` runs on the user's own hardware at zero marginal cost.
TIERS: tuple[str, ...] = ("local", "economy", "small", "mid", "frontier")

TASK_TYPES: tuple[str, ...] = (
    "architecture",
    "analysis",
    "synthesis",
    "code",
    "refactor",
    "debug",
    "review",
    "write",
    "test",
    "extract",
    "summarize",
    "translate",
    "format",
    "brainstorm",
    "qa",
)
# A classification's only signal when the user named the type (`pick --task-type`).
GIVEN = "--task-type"
