"""An import's write-ahead log copied into the ledger file by a thread of its own.

SQLite copies the log into the file (a checkpoint) inside the commit that takes the log past
`wal_autocheckpoint`, so the importing process waits for it: on a first import of 1M lines
about 1 s of its storing, 0.4 s of that waiting for the disk to confirm the writes (fsync).
Here a second connection, in a thread, checkpoints after each group while the import builds
the next one. SQLite lets a checkpoint run beside a writer, and Python's sqlite3 lets go of
the GIL while SQLite works.

A PASSIVE checkpoint never waits for a lock and never blocks the writer; whatever it could
not copy, the next one copies. Should the thread fall behind (or fail to open the ledger),
the importing connection still checkpoints as before once the log passes a higher mark
(`BACKSTOP_FACTOR` times its usual one).
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import suppress
from pathlib import Path

BACKSTOP_FACTOR = 4  # the importer's own checkpoints start at this many times the usual log


class Checkpointer:
    """Checkpoints of one SQLite ledger file, each asked for after a commit and run in a
    background thread, one at a time; started by the first request."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._state = threading.Condition()
        self._asked = self._done = 0  # requests made, and requests the last checkpoint covered
        self._closing = False
        self._ended = False  # the thread is gone (closed, or it failed): no more checkpoints
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """A checkpoint soon (after a commit): never waits for it."""
        with self._state:
            if self._closing or self._ended:
                return
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name="tokenroute-checkpoints", daemon=True
                )
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had: the importer's own checkpoints
                    self._ended = True
                    return
                self._thread = thread
            self._asked += 1
            self._state.notify_all()

    def settle(self) -> None:
        """Wait until every checkpoint asked for so far has run."""
        with self._state:
            while self._done < self._asked and not self._ended:
                self._state.wait()

    def close(self) -> None:
        """Stop the thread: a checkpoint under way finishes, one only asked for is dropped
        (closing the ledger's last connection checkpoints what is left)."""
        with self._state:
            self._closing = True
            self._asked = self._done
            self._state.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self._path, isolation_level=None)
            while True:
                with self._state:
                    while self._done == self._asked and not self._closing:
                        self._state.wait()
                    if self._closing:
                        return
                    covered = self._asked
                with suppress(sqlite3.Error):  # as SQLite's own: the next one tries again
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                with self._state:
                    self._done = covered
                    self._state.notify_all()
        except sqlite3.Error:
            pass  # the file cannot be opened: the importer's own checkpoints do the work
        finally:
            if conn is not None:
                conn.close()
            with self._state:
                self._ended = True
                self._done = self._asked
                self._state.notify_all()
