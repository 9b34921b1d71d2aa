"""One line of an agent's log as JSON, read fast.

orjson reads these lines about three times faster than the json module, which matters for a
first import of a million lines. What orjson refuses but json accepts (lone surrogate escapes
in a tool's output, NaN, integers past 64 bits, nesting past 1,024 levels) is read again by
json, so whether a line counts never depends on which parser read it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(raw: bytes) -> Any:
    """The line's value; raises ValueError or RecursionError as json.loads does."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
