"""Moving SQLite's write-ahead log into the database file, off the request path.

SQLite would otherwise checkpoint inside whichever commit crosses its threshold,
and that commit pays for syncing the whole log to disk. Trustable's SQLite engines
turn automatic checkpoints off and run this thread instead: a passive checkpoint
every `interval` seconds (it never blocks writers), and a full one when stopped.

A passive checkpoint copies the log into the database but never starts the log
over: SQLite rewinds it only when a writer finds no reader still using it, which
under sustained load (some request is always reading) never happens. The log then
grows without end (4 GiB in 70 s of collection was measured), and with it the
memory every connection maps to index it. So when the log passes `WAL_LIMIT` bytes
the next round truncates it: a checkpoint that waits (at most `TRUNCATE_WAIT_MS`)
for the readers of the moment to finish, holding new writers back meanwhile, then
starts the log from zero.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

log = logging.getLogger("trustable.storage")
WAL_LIMIT = 64 * 1024 * 1024  # bytes of write-ahead log before it is started over
TRUNCATE_WAIT_MS = 2_000  # how long a truncating checkpoint waits for readers


class WalCheckpointer:
    def __init__(self, engine: Engine, *, interval: float = 1.0) -> None:
        self._engine = engine
        self._interval = interval
        database = engine.url.database
        self._wal = f"{database}-wal" if database and database != ":memory:" else None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="trustable-wal-checkpoint", daemon=True
        )

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        # On the raw connection: a checkpoint cannot run inside a transaction, and
        # SQLAlchemy would open one.
        try:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                if mode == "TRUNCATE":
                    cursor.execute(f"PRAGMA busy_timeout={TRUNCATE_WAIT_MS}")
                try:
                    cursor.execute(f"PRAGMA wal_checkpoint({mode})")
                finally:
                    if mode == "TRUNCATE":
                        cursor.execute("PRAGMA busy_timeout=30000")  # as `storage.engine` sets it
                    cursor.close()
            finally:
                raw.close()
        except (OperationalError, sqlite3.OperationalError) as exc:
            # Busy, or the store is closing: the next round catches up.
            log.warning("WAL checkpoint skipped (%s)", exc.__class__.__name__)

    def wal_bytes(self) -> int:
        """The write-ahead log's size on disk (0 when there is none)."""
        if self._wal is None:
            return 0
        try:
            return os.path.getsize(self._wal)
        except OSError:
            return 0

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.checkpoint("TRUNCATE" if self.wal_bytes() > WAL_LIMIT else "PASSIVE")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.checkpoint("TRUNCATE")
