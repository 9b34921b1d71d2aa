"""API keys kept by `tokenroute keys`: a JSON file readable by its owner alone (0600).

The environment wins over the file, as the providers' own SDKs read it; the file is for
keys a user does not want in every shell. Keys are never printed, logged or stored anywhere
else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tokenroute.errors import BadInputError


def read_keys(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(
            f"{path}: the keys file is unreadable ({type(exc).__name__}): "
            "fix or delete it, then run 'tokenroute keys set NAME' again"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise BadInputError(f"{path}: the keys file must be a JSON object of names to keys")
    return data


def write_keys(path: Path, keys: dict[str, str]) -> None:
    """Replace the file atomically, created 0600 so the key is never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(temp, 0o600)  # O_CREAT's mode is masked by umask; this one is not
    temp.replace(path)


def set_key(path: Path, name: str, key: str) -> None:
    key = key.strip()
    if not key:
        raise BadInputError("the key is empty: paste it when asked, or pipe it in")
    if any(c.isspace() for c in key) or not (key.isascii() and key.isprintable()):
        raise BadInputError(
            "the key contains spaces, line breaks or non-ASCII characters: give the key alone"
        )
    keys = read_keys(path)
    keys[name] = key
    write_keys(path, keys)


def remove_key(path: Path, name: str) -> bool:
    keys = read_keys(path)
    if name not in keys:
        return False
    del keys[name]
    write_keys(path, keys)
    return True
