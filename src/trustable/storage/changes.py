"""Telling every process that shares a store what another one changed in it.

A process keeps some of what it read in memory (the vault its opened data keys). When
another process changes that state for good (erasure destroys a customer's key), the
copy must go within a stated bound, not at the next restart. The change is written
to a *change log* table in the same transaction as the change itself: one row per
subject (an opaque id), numbered in commit order. Each process follows the log: on
use, at most once every `every` seconds, it reads the rows numbered after the last it
saw (one indexed query, never one per event) and drops what they name.

Numbers are given in commit order: a writer takes a transaction-scoped lock first
(PostgreSQL advisory lock; SQLite has one writer at a time anyway), so a row never
commits behind a higher number a follower has already passed. Rows older than `kept`
are pruned (the newest always stays, so numbers never restart); a follower that has
not read the log for half that long forgets everything it holds instead of trusting
a log that may have lost rows.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    text,
)

from trustable.storage.types import UtcDateTime

KEPT = timedelta(hours=1)  # how long a change stays in its log


def change_table(name: str, metadata: MetaData) -> Table:
    """A change log: `seq` in commit order, the `subject` that changed, and when."""
    return Table(
        name,
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=False),
        Column("subject", String(64), nullable=False),
        Column("changed_at", UtcDateTime(), nullable=False, index=True),
    )


def _lock_key(table: Table) -> int:
    """The advisory lock that orders writers of one log (a stable 31-bit number)."""
    return zlib.crc32(b"trustable change log " + table.name.encode()) & 0x7FFFFFFF


def record_changes(
    conn: Connection, table: Table, subjects: Iterable[str], *, now: datetime
) -> None:
    """Append `subjects` to the log inside the caller's transaction (which commits
    them with the change they announce), and prune rows older than `KEPT`."""
    wanted = list(subjects)
    if not wanted:
        return
    if conn.dialect.name == "postgresql":
        # Held to commit: the next writer numbers after this one's rows are visible.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(table)})
    last = int(conn.execute(select(func.coalesce(func.max(table.c.seq), 0))).scalar_one())
    conn.execute(
        insert(table),
        [
            {"seq": last + n, "subject": subject, "changed_at": now}
            for n, subject in enumerate(wanted, start=1)
        ],
    )
    conn.execute(delete(table).where(table.c.changed_at < now - KEPT, table.c.seq <= last))


class Follower:
    """Follows one change log on behalf of one in-memory copy.

    `check()` sits on the path that uses the copy: it costs a clock read until
    `every` seconds have passed since the last read of the log, then one query.
    `forget(subjects)` drops what changed; `forget_all()` drops everything (after a
    silence long enough that pruned rows may have been missed).
    """

    def __init__(
        self,
        engine: Engine,
        table: Table,
        *,
        every: float,
        forget: Callable[[list[str]], None],
        forget_all: Callable[[], None],
    ) -> None:
        self.engine = engine
        self.table = table
        self.every = every
        self._forget = forget
        self._forget_all = forget_all
        self._lock = threading.Lock()
        self._last: int | None = None  # None: the log was never read
        self._checked = -float("inf")  # monotonic time the last read started

    def check(self) -> None:
        """Read the log if it was last read `every` seconds ago or more.

        A caller that finds another thread reading waits for it, so no use of the
        copy happens later than `every` seconds (plus one read) after a change
        committed. A failed read raises: the caller fails rather than use a copy
        that may be stale.
        """
        if time.monotonic() - self._checked < self.every:
            return
        with self._lock:
            started = time.monotonic()
            if started - self._checked < self.every:
                return  # another thread read it while this one waited
            self._read(started)

    def _read(self, started: float) -> None:
        table = self.table
        with self.engine.connect().execution_options(read_only=True) as conn:
            if self._last is None or started - self._checked > KEPT.total_seconds() / 2:
                newest = select(func.coalesce(func.max(table.c.seq), 0))
                last = int(conn.execute(newest).scalar_one())
                if self._last is not None:
                    self._forget_all()
                self._last = last
            else:
                rows = conn.execute(
                    select(table.c.seq, table.c.subject)
                    .where(table.c.seq > self._last)
                    .order_by(table.c.seq)
                ).all()
                if rows:
                    self._forget([row.subject for row in rows])
                    self._last = rows[-1].seq
        self._checked = started
