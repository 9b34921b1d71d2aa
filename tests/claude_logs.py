"""A small Claude Code log tree written the way Claude Code writes it, with the token
buckets each UTC day should add up to (computed from what was written, not by tokenroute).

What it holds, because each is a way to get the buckets wrong: one API response split over
several lines (one per content block) repeating its message id, request id and usage; 5-minute
and 1-hour cache writes; a subagent sidechain file; user and summary lines with no usage; an
API error line with all-zero usage; calls on several days and both sides of midnight UTC.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

MODELS = ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805")
# cache_write: 5-minute and 1-hour writes together (ccusage's cache creation); of it, 1-hour
BUCKETS = ("input", "cache_write", "cache_read", "output", "cache_write_1h")
_LINE_NUMBERS = itertools.count()


def write_tree(root: Path, *, end: datetime, days: int = 6, sessions: int = 9, seed: int = 3):
    """Write `root`/projects/... and return {day: {bucket: tokens}} for the calls in it."""
    rng = random.Random(seed)
    per_day: dict[str, dict[str, int]] = {}
    start = end - timedelta(days=days)
    for s in range(sessions):
        session_id = f"00000000-0000-4000-8000-{s:012d}"
        folder = root / "projects" / f"-home-dev-project{s % 2}"
        paths = [folder / f"{session_id}.jsonl"]
        if s == 0:
            paths.append(folder / session_id / "subagents" / "agent-a1b2c3.jsonl")
        for n, path in enumerate(paths):
            at = start + timedelta(minutes=rng.randrange(days * 24 * 60 - 600))
            lines = [{"type": "summary", "summary": "fixing the login loop", "leafUuid": "x"}]
            for call in range(rng.randrange(8, 20)):
                at += timedelta(minutes=rng.randrange(1, 50))
                stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                lines.append(_user_line(session_id, stamp, n > 0))
                if call == 3:
                    lines.append(_error_line(session_id, stamp, n > 0))
                    continue
                usage, model = _usage(rng), rng.choice(MODELS)  # one response, one model
                message_id = f"msg_{s:02d}{n}{call:03d}{rng.randrange(10**8):08d}"
                for block in range(rng.randrange(1, 4)):  # one line per content block
                    lines.append(
                        _assistant_line(
                            session_id, stamp, message_id, f"req_{message_id[4:]}",
                            model, usage, block, sidechain=n > 0,
                        )
                    )  # fmt: skip
                day = per_day.setdefault(stamp[:10], dict.fromkeys(BUCKETS, 0))
                day["input"] += usage["input_tokens"]
                day["cache_write"] += usage["cache_creation_input_tokens"]
                day["cache_write_1h"] += usage["cache_creation"]["ephemeral_1h_input_tokens"]
                day["cache_read"] += usage["cache_read_input_tokens"]
                day["output"] += usage["output_tokens"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
            )
    return per_day


def _usage(rng: random.Random) -> dict:
    five, hour = rng.randrange(0, 6000), rng.choice((0, 0, rng.randrange(1, 3000)))
    return {
        "input_tokens": rng.randrange(1, 400),
        "cache_creation_input_tokens": five + hour,
        "cache_read_input_tokens": rng.randrange(0, 90_000),
        "cache_creation": {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour},
        "output_tokens": rng.randrange(1, 2500),
        "service_tier": "standard",
    }


def _common(session_id: str, stamp: str, sidechain: bool) -> dict:
    return {
        "isSidechain": sidechain, "userType": "external", "cwd": "/home/dev/project",
        "sessionId": session_id, "version": "2.0.14", "gitBranch": "main",
        "uuid": f"u-{next(_LINE_NUMBERS):012d}", "timestamp": stamp,
    }  # fmt: skip


def _user_line(session_id: str, stamp: str, sidechain: bool) -> dict:
    body = {"role": "user", "content": "go on"}
    return {**_common(session_id, stamp, sidechain), "type": "user", "message": body}


def _assistant_line(
    session_id, stamp, message_id, request_id, model, usage, block, *, sidechain
) -> dict:
    content = [{"type": ("thinking", "text", "tool_use")[block % 3], "text": "..."}]
    message = {
        "id": message_id, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": None, "stop_sequence": None, "usage": usage,
    }  # fmt: skip
    line = {**_common(session_id, stamp, sidechain), "type": "assistant", "message": message}
    return {**line, "requestId": request_id}


def _error_line(session_id: str, stamp: str, sidechain: bool) -> dict:
    zero = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0}  # fmt: skip
    message = {
        "id": "e-" + stamp, "type": "message", "role": "assistant", "model": "<synthetic>",
        "content": [{"type": "text", "text": "API Error: 529 overloaded"}], "usage": zero,
    }  # fmt: skip
    line = {**_common(session_id, stamp, sidechain), "type": "assistant", "message": message}
    return {**line, "isApiErrorMessage": True}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
