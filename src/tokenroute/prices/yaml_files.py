"""Reading YAML files safely: limits on size and nesting (an alias bomb is refused, not
expanded), plain values only, and a cache of parsed documents keyed by their bytes.

The price tables, the routing policy and the config are all read this way.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple


class Document(NamedTuple):
    path: Path
    raw: Any
    digest: str


def read_documents(paths: list[Path], problems: list[str], cache: Path | None) -> list[Document]:
    """Each readable file's parsed content, from the cache when its bytes are unchanged."""
    blobs: list[tuple[Path, bytes]] = []
    for path in paths:
        try:
            blobs.append((path, path.read_bytes()))
        except OSError as exc:
            problems.append(f"{path}: cannot read: {os_reason(exc)}")
    digests = [hashlib.sha256(blob).hexdigest() for _, blob in blobs]
    key = hashlib.sha256("".join(digests).encode()).hexdigest()[:24]
    cached = _cache_get(cache, key, len(blobs))
    if cached is not None:
        return [Document(p, raw, d) for (p, _), raw, d in zip(blobs, cached, digests, strict=True)]
    documents = []
    for (path, blob), digest in zip(blobs, digests, strict=True):
        raw = parse_yaml(path, blob, problems)
        if raw is not UNREADABLE:
            documents.append(Document(path, raw, digest))
    if len(documents) == len(blobs) and not problems:
        _cache_put(cache, key, [d.raw for d in documents])
    return documents


def _cache_get(cache: Path | None, key: str, expected: int) -> list[Any] | None:
    if cache is None:
        return None
    try:
        raw = json.loads((cache / f"tables-{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, list) and len(raw) == expected else None


def _cache_put(cache: Path | None, key: str, documents: list[Any]) -> None:
    """Best effort: a cache that cannot be written only costs the next start-up time."""
    if cache is None:
        return
    target = cache / f"tables-{key}.json"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(documents, default=_json_value), encoding="utf-8")
        temp.replace(target)
    except (OSError, TypeError, ValueError):
        return  # unwritable, or content JSON cannot hold (e.g. !!binary): just do not cache


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot cache {type(value).__name__}")


UNREADABLE = object()


def parse_yaml(path: Path, blob: bytes, problems: list[str]) -> Any:
    """A user's YAML file as plain data (see _plain), or UNREADABLE with the problem said.
    Dates stay text, for the checks that name their field."""
    import yaml

    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{path}: cannot read: not UTF-8 text")
        return UNREADABLE
    try:
        return _plain(yaml.load(text, Loader=_table_loader(yaml)), [MAX_YAML_VALUES], 0)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(f"{path}{where}: not valid YAML: {reason}")
    except RecursionError:
        problems.append(f"{path}: not valid YAML: nested too deeply")
    except (ValueError, TypeError, OverflowError) as exc:  # an explicit tag: `!!int x`
        problems.append(f"{path}: not valid YAML: {str(exc)[:100]}")
    except _TooBig as exc:
        problems.append(f"{path}: {exc}")
    return UNREADABLE


MAX_YAML_VALUES = 200_000  # a price table has a few thousand; an alias bomb, billions
MAX_YAML_DEPTH = 32  # a price table nests five deep


class _TooBig(Exception):
    pass


def _plain(value: Any, budget: list[int], depth: int) -> Any:
    """The parsed YAML as plain data: aliases copied out within a budget (a 2 KB 'billion
    laughs' file expands to billions of values), keys as text (`1:` and `a:` side by side
    cannot be sorted otherwise), no deeper than MAX_YAML_DEPTH."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(f"expands to more than {MAX_YAML_VALUES:,} values (aliases?)")
    if depth > MAX_YAML_DEPTH:
        raise _TooBig(f"nested more than {MAX_YAML_DEPTH} levels deep")
    if isinstance(value, dict):
        return {str(k): _plain(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, budget, depth + 1) for v in value]
    return value


@functools.cache
def _table_loader(yaml: Any) -> Any:
    """The C safe loader, but dates stay text: `_as_date` checks them and names the field
    (PyYAML's own date constructor raises on 2026-02-30 before we can say where it is).
    Built once: yaml is imported only when a table must really be parsed."""
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class TableLoader(base):  # type: ignore[misc, valid-type]
        pass

    TableLoader.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
    )
    return TableLoader


def os_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
