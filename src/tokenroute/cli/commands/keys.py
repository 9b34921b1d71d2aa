"""`tokenroute keys`: API keys for providers, in a file only you can read."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from tokenroute.cli.options import JsonOpt, command_group, done
from tokenroute.errors import NotFoundError, UsageError

group = command_group(
    "Store API keys for providers (a file only you can read).", no_args_is_help=True
)


@group.command("set")
def keys_set(
    name: Annotated[str, typer.Argument(help="The endpoint: openai, anthropic, google, ...")],
    as_json: JsonOpt = False,
) -> None:
    """Store a key for NAME (asked for without echo, or piped in). Never printed."""
    from tokenroute.dispatch.config import load_config
    from tokenroute.dispatch.endpoints import endpoint_specs
    from tokenroute.dispatch.keys import set_key
    from tokenroute.settings import resolve_paths

    paths = resolve_paths()
    specs = endpoint_specs(load_config(paths.config))
    if name not in specs:
        raise UsageError(f"no endpoint named '{name}': known are {', '.join(sorted(specs))}")
    if sys.stdin.isatty():
        import getpass

        key = getpass.getpass(f"{name} API key (not shown): ", stream=sys.stderr)
    else:
        key = sys.stdin.readline()
    set_key(paths.keys, name, key)
    done(
        f"stored the key for {name} in {paths.keys}",
        {"key": {"endpoint": name, "stored_in": str(paths.keys)}},
        as_json,
    )


@group.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Which endpoints have a key, and where it comes from (names only, never keys)."""
    from tokenroute.cli.views import keys as view
    from tokenroute.dispatch.config import load_config
    from tokenroute.dispatch.endpoints import endpoint_specs, key_rows
    from tokenroute.dispatch.keys import read_keys
    from tokenroute.settings import resolve_paths

    paths = resolve_paths()
    specs = endpoint_specs(load_config(paths.config))
    view.show_keys(key_rows(specs, os.environ, read_keys(paths.keys)), as_json=as_json)


@group.command("remove")
def keys_remove(
    name: Annotated[str, typer.Argument(help="The endpoint whose key to forget.")],
    as_json: JsonOpt = False,
) -> None:
    """Forget the stored key for NAME (environment variables are yours to unset)."""
    from tokenroute.dispatch.keys import remove_key
    from tokenroute.settings import resolve_paths

    if not remove_key(resolve_paths().keys, name):
        raise NotFoundError(f"no stored key for '{name}' (see 'tokenroute keys list')")
    done(f"removed the key for {name}", {"removed": {"endpoint": name}}, as_json)
