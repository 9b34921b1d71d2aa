"""Where a ledger lives: a SQLite file (a path), or a PostgreSQL database a team shares
(`postgresql://user@host:5432/db`). A database address may carry a password; it is kept
for the connection and never shown: `str()` of a location is its redacted form."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

from tokenroute.errors import UsageError

SCHEMES = ("postgresql://", "postgres://")
_SECRET_PARAMETERS = {"password", "sslpassword"}


class ServerLedger(NamedTuple):
    """A ledger in a PostgreSQL database, by its libpq connection URL."""

    url: str

    def __str__(self) -> str:
        return shown_database_url(self.url)

    @property
    def password(self) -> str | None:
        """The password the URL itself carries, to keep out of anything printed."""
        parts = urlsplit(self.url)
        found = parts.password or dict(parse_qsl(parts.query)).get("password")
        return found or None


Location = Path | ServerLedger


def ledger_location(value: str | Path, what: str = "--ledger") -> Location:
    """A ledger given on the command line, in TOKENROUTE_LEDGER or the config."""
    if isinstance(value, Path):
        return value
    text = value.strip()
    if not text:
        raise UsageError(f"{what} is empty: give a file's path or a postgresql:// URL")
    if text.lower().startswith(SCHEMES):
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - a port that is not a number raises here
        except ValueError:
            raise UsageError(
                f"{what}: not a usable database URL ({shown_database_url(text)}): "
                "write it as postgresql://USER@HOST:PORT/DATABASE"
            ) from None
        return ServerLedger(text)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise UsageError(
            f"{what}: '{scheme}://' ledgers are not supported: give a file's path "
            "or a postgresql:// URL"
        )
    return Path(text).expanduser()


def shown_database_url(url: str) -> str:
    """The URL as it may be printed: no password, in the authority or in the query."""
    shown = re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url, count=1)
    secrets = "|".join(sorted(_SECRET_PARAMETERS))
    return re.sub(rf"([?&](?:{secrets})=)[^&]*", r"\1***", shown)
