"""What `paths`, `config path` and `config show` print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tokenroute.cli import render


def show_paths(where: dict[str, str], *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"paths": where})
    else:
        render.emit_lines([f"{name:<7} {path}" for name, path in where.items()])


def show_config_path(path: Path, *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"path": str(path)})
    else:
        sys.stdout.write(f"{path}\n")


def show_config(shown: dict[str, Any], *, as_json: bool) -> None:
    """The settings in force: as JSON, or as the YAML a config file would hold."""
    if as_json:
        render.emit_json({"config": shown})
        return
    import yaml

    sys.stdout.write(yaml.safe_dump(shown, sort_keys=False))
