"""`tokenroute config` (path, show, edit) and `tokenroute paths`: where tokenroute keeps its
files, and the settings in force."""

from __future__ import annotations

import os

from tokenroute.cli.options import JsonOpt, command_group
from tokenroute.errors import UsageError

group = command_group("The config file: endpoints and run defaults.", no_args_is_help=True)


def paths(as_json: JsonOpt = False) -> None:
    """Where tokenroute keeps its files.

    The ledger, config, API keys and your own price tables; TOKENROUTE_HOME moves them all
    under one folder. Folders are created on first write.
    """
    from tokenroute.cli.views import config as view
    from tokenroute.settings import resolve_paths

    view.show_paths(resolve_paths().as_dict(), as_json=as_json)


@group.command("path")
def config_path(as_json: JsonOpt = False) -> None:
    """Print where the config file is (it need not exist yet)."""
    from tokenroute.cli.views import config as view
    from tokenroute.settings import resolve_paths

    view.show_config_path(resolve_paths().config, as_json=as_json)


@group.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Show the settings in force: run defaults and every endpoint (no keys)."""
    from tokenroute.cli.views import config as view
    from tokenroute.dispatch.config import load_config, settings_in_force
    from tokenroute.settings import resolve_paths

    config = load_config(resolve_paths().config)
    view.show_config(settings_in_force(config, os.environ), as_json=as_json)


@group.command("edit")
def config_edit() -> None:
    """Open the config file in $EDITOR (created with the defaults when missing)."""
    import shlex
    import subprocess

    from tokenroute.dispatch.config import load_config, write_default_config
    from tokenroute.settings import resolve_paths

    path = resolve_paths().config
    if not path.exists():
        write_default_config(path)
    variable = "VISUAL" if os.environ.get("VISUAL") else "EDITOR"
    editor = os.environ.get(variable) or "vi"
    try:
        command = shlex.split(editor)
        subprocess.run([*command, str(path)], check=False)
    except (OSError, ValueError, IndexError) as exc:
        reason = getattr(exc, "strerror", None) or "not a command line"
        raise UsageError(
            f"cannot start the editor {editor!r} (${variable}): {reason}; set $EDITOR to "
            f"one that is installed, or edit {path} yourself"
        ) from None
    load_config(path)  # say now, not at the next run, if the edit broke it
