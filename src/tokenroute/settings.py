"""Where tokenroute keeps its files. `TOKENROUTE_HOME` puts every one of them under one folder.

Nothing here creates a directory: each writer creates the folder it writes into, when it
first writes, so `--help` and `paths` leave the disk as they found it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "tokenroute"


@dataclass(frozen=True)
class Paths:
    ledger: Path
    config: Path
    keys: Path
    prices: Path  # the user's price tables, which override the shipped ones
    cache: Path

    def as_dict(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in self.__dataclass_fields__}


def resolve_paths(environ: Mapping[str, str] | None = None) -> Paths:
    env = os.environ if environ is None else environ
    home = env.get("TOKENROUTE_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(
            ledger=root / "ledger.db",
            config=root / "config.yaml",
            keys=root / "keys.json",
            prices=root / "prices",
            cache=root / "cache",
        )
    import platformdirs

    data = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    config = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    cache = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    return Paths(
        ledger=data / "ledger.db",
        config=config / "config.yaml",
        keys=config / "keys.json",
        prices=data / "prices",
        cache=cache,
    )


def detect_project(cwd: Path) -> str:
    """The project a call belongs to: the git root's folder name, else the current folder's."""
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder.name
    return cwd.name or str(cwd)
