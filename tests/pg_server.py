"""A real PostgreSQL server for the tests: started once per session from the machine's own
binaries (Debian's `postgresql` package, which `.ci/run` installs), on a free loopback
port with a throwaway data folder, and stopped at the end.

TOKENROUTE_TEST_POSTGRES=postgresql://... uses a server you run yourself instead (a
superuser's URL: each test gets a schema of its own there). Without either, the tests that
need PostgreSQL skip and say why.

Logins: the superuser `postgres` is trusted over loopback; `teammate` needs its password
(scram-sha-256), so the password paths (PGPASSWORD, ~/.pgpass, passfile) are real.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TEAMMATE = "teammate"
TEAMMATE_PASSWORD = "s3cret-Pg-pass"  # a test's own password, never a real one
_NAMES = itertools.count()


@dataclass
class PgServer:
    host: str
    port: int
    admin_url: str
    data: Path | None = None
    run_as: list[str] = field(default_factory=list)
    bin: Path | None = None

    def url(
        self,
        database: str = "postgres",
        *,
        user: str = "postgres",
        password: str = "",
        schema: str | None = None,
    ) -> str:
        login = f"{user}:{password}@" if password else f"{user}@"
        query = f"?options=-csearch_path%3D{schema}" if schema else ""
        return f"postgresql://{login}{self.host}:{self.port}/{database}{query}"

    def admin(self):
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True)

    def new_database(self, prefix: str = "ledger") -> str:
        """A fresh, empty database owned by the teammate; its name."""
        name = f"{prefix}_{os.getpid()}_{next(_NAMES)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {TEAMMATE}")
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def new_schema(self) -> str:
        """A fresh schema in the shared `suite` database (cheaper than a database)."""
        name = f"t_{os.getpid()}_{next(_NAMES)}"
        import psycopg

        with psycopg.connect(self.url("suite"), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return name

    def drop_schema(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("suite"), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")

    def stop(self, mode: str = "fast") -> None:
        if self.data is not None:
            subprocess.run(
                [
                    *self.run_as,
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    mode,
                    "-w",
                    "stop",
                ],
                capture_output=True,
                check=False,
            )

    def start(self) -> None:
        assert self.data is not None
        subprocess.run(
            [
                *self.run_as,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-w",
                "-l",
                str(self.data.parent / "server.log"),
                "start",
            ],
            capture_output=True,
            check=True,
        )


def postgres_binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists():
            return Path(folder)
    return None


def start_server(*, durable: bool = False) -> tuple[PgServer | None, str]:
    """The session's server, or None and why there is none. Not `durable`, a commit returns
    before its WAL is written (fast); durable, a commit survives the server's crash."""
    given = os.environ.get("TOKENROUTE_TEST_POSTGRES")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed (pip install -e '.[test]')"
    if given:
        from urllib.parse import urlsplit

        parts = urlsplit(given)
        server = PgServer(parts.hostname or "127.0.0.1", parts.port or 5432, given)
        _prepare(server)
        return server, ""
    binaries = postgres_binaries()
    if binaries is None:
        return None, "PostgreSQL is not installed (apt install postgresql; see the README)"
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:  # initdb refuses root: the server runs as the package's user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no 'postgres' user to run the server as"
        run_as = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="tokenroute-pg-"))
    root.chmod(0o755)
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data = root / "data"
    port = _free_port()
    init = subprocess.run(
        [
            *run_as,
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        return None, f"initdb failed: {init.stderr.strip().splitlines()[-1:]}"
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
            f"fsync = off\nsynchronous_commit = {'on' if durable else 'off'}\n"
            "full_page_writes = off\n"
            "max_connections = 200\nshared_buffers = 128MB\n"
        )
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n",
        encoding="utf-8",
    )
    server = PgServer(
        "127.0.0.1",
        port,
        f"postgresql://postgres@127.0.0.1:{port}/postgres",
        data=data,
        run_as=run_as,
        bin=binaries,
    )
    try:
        server.start()
    except subprocess.CalledProcessError:
        log = (root / "server.log").read_text(errors="replace").strip().splitlines()[-1:]
        return None, f"the PostgreSQL server did not start: {log}"
    _prepare(server)
    return server, ""


def _prepare(server: PgServer) -> None:
    """The teammate's login and the suite's shared database."""
    deadline = time.monotonic() + 10
    while True:
        try:
            conn = server.admin()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (TEAMMATE,)).fetchone()
        if not exists:
            conn.execute(f"CREATE ROLE {TEAMMATE} LOGIN PASSWORD '{TEAMMATE_PASSWORD}'")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'suite'").fetchone():
            conn.execute("CREATE DATABASE suite")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def remove(server: PgServer) -> None:
    server.stop("immediate")
    if server.data is not None:
        shutil.rmtree(server.data.parent, ignore_errors=True)
