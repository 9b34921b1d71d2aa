"""Where tokenroute keeps its files. `TOKENROUTE_HOME` puts every one of them under one folder.

Nothing here creates a directory: each writer creates the folder it writes into, when it
first writes, so `--help` and `paths` leave the disk as they found it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

APP_NAME = "tokenroute"


class Paths(NamedTuple):
    ledger: Path
    config: Path
    keys: Path
    prices: Path  # the user's price tables, which override the shipped ones
    policy: Path  # the user's routing policy, which replaces the shipped one
    cache: Path
    budgets: Path  # spending limits set with `tokenroute budget`

    def as_dict(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in self._fields}


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
            policy=root / "policy.yaml",
            cache=root / "cache",
            budgets=root / "budgets.json",
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
        policy=config / "policy.yaml",
        cache=cache,
        budgets=config / "budgets.json",
    )


def detect_project(cwd: Path) -> str:
    """The project a call belongs to: the git root's folder name, else the current folder's."""
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder.name
    return cwd.name or str(cwd)


# Where each provider's key is found in the environment, as the official SDKs look for it.
PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "google": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "xai": ("XAI_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
}


def configured_providers(environ: Mapping[str, str] | None = None) -> set[str]:
    """Providers with a key in the environment (only their names are read, never kept)."""
    env = os.environ if environ is None else environ
    return {name for name, keys in PROVIDER_KEYS.items() if any(env.get(k) for k in keys)}
