"""The sequencer: one process at a time gives pending ledger records their indices.

Like the delivery worker, an entry point that owns its transactions. Every serving
process runs one from a thread; only the leader works. On PostgreSQL the leader
holds a session advisory lock (one per store: the key is derived from the schema),
and when it dies its connection closes, the lock is released and another process
takes over within an interval. On SQLite the leader holds an exclusive lock on a
file beside the database, released by the operating system likewise.

Each round moves every pending record into the tree, in batches of `BATCH` each
committed alone, then signs a new head if the log grew: the log grows, and a head
covering it is signed, at least every `TRUSTABLE_LEDGER_INTERVAL`. Leadership only
keeps the others idle: correctness rests on each batch locking the tree size, so
two sequencers at once (a leader that lost its lock without knowing yet) still never
give an index twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from trustable.bootstrap import Trustable
from trustable.ledger import service
from trustable.ledger.sequencing import BATCH, any_pending, sequence
from trustable.storage.engine import schema_of

log = logging.getLogger("trustable.ledger")


@dataclass(frozen=True)
class Flushed:
    sequenced: int
    size: int
    signed: bool  # whether a new head was signed


def flush(app: Trustable, *, batch: int = BATCH) -> Flushed:
    """Sequence every record pending now, then sign a head if the log grew.

    Safe from any process at any time (each batch locks the tree size): the CLI runs
    it before it exits, so what a command submitted does not wait for a server.
    """
    total = 0
    while True:
        with app.uow() as uow:
            done = sequence(uow, limit=batch)
            uow.commit()
        total += done.sequenced
        if done.sequenced < batch:
            break
    with app.uow() as uow:
        latest = service.latest_head(uow)
        if latest is not None and latest.size >= done.size:
            return Flushed(total, done.size, False)
        service.sign_head(uow, app.vault, now=app.clock())
        uow.commit()
    return Flushed(total, done.size, True)


def due(app: Trustable) -> bool:
    """Whether a round has work: a record waits, or the log grew past its latest
    signed head (an `append`). A read, so an idle round never takes the write lock
    (on SQLite, the lock every collecting request needs)."""
    with app.reader() as uow:
        if any_pending(uow):
            return True
        latest = service.latest_head(uow)
        return service.tree_size(uow) > (latest.size if latest is not None else 0)


def settle(app: Trustable) -> Flushed | None:
    """Before a command exits: sequence what is pending and sign what it appended,
    if anything (a read first, so a command that wrote nothing writes nothing here)."""
    return flush(app) if due(app) else None


class Leadership(Protocol):
    def acquire(self) -> bool:
        """Whether this process leads now (taking the lead if it is free)."""

    def release(self) -> None: ...


def lock_key(schema: str | None) -> int:
    """The advisory lock's key: one per store, so stores in other schemas of the same
    database have sequencers of their own."""
    digest = hashlib.sha256(f"trustable.ledger.sequencer:{schema or ''}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class AdvisoryLeadership:
    """PostgreSQL: a session advisory lock on a connection kept for the purpose."""

    app: Trustable
    _conn: Connection | None = None

    def acquire(self) -> bool:
        key = lock_key(schema_of(self.app.engine))
        try:
            if self._conn is not None:
                # Still ours while the session lives; a dead session released it.
                self._conn.exec_driver_sql("SELECT 1")
                return True
            conn = self.app.engine.connect()
            taken = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
            if taken.scalar_one():
                conn.commit()
                self._conn = conn
                return True
            conn.rollback()
            conn.close()
        except SQLAlchemyError as exc:
            log.warning("sequencer lost the database: %s", exc.__class__.__name__)
            self.release()
        return False

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                # Not back to the pool, where the session (and the lock) would live on:
                # closed for good, which ends the session and the lock with it.
                self._conn.invalidate()
                self._conn.close()
            self._conn = None


@dataclass
class FileLeadership:
    """SQLite: an exclusive lock on a file beside the database."""

    path: Path
    _file: IO[bytes] | None = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None


def leadership(app: Trustable) -> Leadership:
    if app.engine.dialect.name == "postgresql":
        return AdvisoryLeadership(app)
    database = app.engine.url.database or ""
    return FileLeadership(Path(f"{database}.sequencer"))


@dataclass
class Sequencer:
    app: Trustable
    interval: float = 1.0
    lead: Leadership | None = None
    rounds: int = 0
    # Called after each round while this process leads (the witnesses' asker).
    after_round: Callable[[], None] | None = None

    def run_forever(self, stop: threading.Event) -> None:
        lead = self.lead or leadership(self.app)
        leading = False
        try:
            while not stop.is_set():
                started = time.monotonic()
                if lead.acquire():
                    if not leading:
                        log.info("this process sequences the ledger")
                        leading = True
                    self._round()
                    if self.after_round is not None:
                        self.after_round()
                elif leading:
                    log.warning("this process no longer sequences the ledger")
                    leading = False
                stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
            if leading:
                self._round()  # what was submitted before the stop
        finally:
            lead.release()

    def _round(self) -> None:
        try:
            if due(self.app):
                flush(self.app)
            self.rounds += 1
        except Exception as exc:  # keep sequencing after a bad round; nothing is lost
            log.error("ledger sequencing failed: %s", exc.__class__.__name__)


def start_in_background(
    app: Trustable, after_round: Callable[[], None] | None = None
) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    runner = Sequencer(app, interval=app.settings.ledger_interval, after_round=after_round)
    thread = threading.Thread(
        target=runner.run_forever, args=(stop,), name="trustable-sequencer", daemon=True
    )
    thread.start()
    return thread, stop
