"""API keys kept by `tokenroute keys`: a JSON file readable by its owner alone (0600).

The environment wins over the file, as the providers' own SDKs read it; the file is for
keys a user does not want in every shell. Keys are never printed, logged or stored anywhere
else.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
from pathlib import Path

from tokenroute.errors import BadInputError


def read_keys(path: Path) -> dict[str, str]:
    """The stored keys. The file must be a plain file (not a link, a FIFO or a device) of
    this user's, readable by them alone: anything else could hand the keys to someone."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadInputError(
                f"{path}: the keys file is a symbolic link: keys are kept only in a plain "
                "file (delete the link, then run 'tokenroute keys set NAME')"
            ) from None
        raise BadInputError(f"{path}: cannot read the keys file: {exc.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        _check_private(path, os.fstat(handle.fileno()))
        raw = handle.read(MAX_KEYS_FILE + 1)
    try:
        if len(raw) > MAX_KEYS_FILE:
            raise ValueError("too large")
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise BadInputError(
            f"{path}: the keys file is unreadable ({type(exc).__name__}): "
            "fix or delete it, then run 'tokenroute keys set NAME' again"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise BadInputError(f"{path}: the keys file must be a JSON object of names to keys")
    return data


MAX_KEYS_FILE = 1_000_000  # bytes: a few dozen keys take a few KB


def _check_private(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise BadInputError(
            f"{path}: the keys file is not a plain file: delete it and set keys again"
        )
    if info.st_uid != os.getuid():
        raise BadInputError(f"{path}: the keys file belongs to another user: delete it")
    if info.st_mode & 0o077:
        raise BadInputError(
            f"{path}: the keys file can be read by others (mode {stat.S_IMODE(info.st_mode):o}): "
            f"run 'chmod 600 {path}'"
        )


def write_keys(path: Path, keys: dict[str, str]) -> None:
    """Replace the file atomically, created 0600 so the key is never readable by others.

    The temporary file has a fresh random name, created exclusively and never through a
    link, so a planted `keys.json.tmp` symlink cannot receive the keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    descriptor = os.open(temp, flags, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # O_CREAT's mode is masked by umask; this one is not
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(keys, handle, indent=2, sort_keys=True)
            handle.write("\n")
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


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
