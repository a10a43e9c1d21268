"""Moving SQLite's write-ahead log into the database file, off the request path.

SQLite would otherwise checkpoint inside whichever commit crosses its threshold,
and that commit pays for syncing the whole log to disk. Trustable's SQLite engines
turn automatic checkpoints off and run this thread instead: a passive checkpoint
every `interval` seconds (it never blocks writers), and a full one when stopped.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

log = logging.getLogger("trustable.storage")


class WalCheckpointer:
    def __init__(self, engine: Engine, *, interval: float = 1.0) -> None:
        self._engine = engine
        self._interval = interval
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
                cursor.execute(f"PRAGMA wal_checkpoint({mode})")
                cursor.close()
            finally:
                raw.close()
        except (OperationalError, sqlite3.OperationalError) as exc:
            # Busy, or the store is closing: the next round catches up.
            log.warning("WAL checkpoint skipped (%s)", exc.__class__.__name__)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.checkpoint()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.checkpoint("TRUNCATE")
