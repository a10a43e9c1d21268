"""Giving pending records their indices: one round of the sequencer.

A round locks the tree size (as `service.append` does), takes up to `limit` pending
records in the order they were submitted, writes them as entries with the next
indices and deletes them from the pending table, all in the caller's unit of work:
a round that fails or is killed half-way leaves everything pending, so a record is
never lost and never gets two indices. On PostgreSQL it skips pending records
another transaction holds (an erasure clearing their customer, a merge moving
them): the next round takes them, with their look-ups as that transaction left them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from trustable.ledger.service import Indexed, locked_state, with_index, write_entries
from trustable.ledger.tables import ledger_pending
from trustable.storage.uow import UnitOfWork

BATCH = 10_000

_NEXT = select(
    ledger_pending.c.seq,
    ledger_pending.c.kind,
    ledger_pending.c.body,
    ledger_pending.c.customer_id,
    ledger_pending.c.history,
).order_by(ledger_pending.c.seq)


@dataclass(frozen=True)
class Round:
    sequenced: int  # records that got their indices
    size: int  # the tree size after the round


def sequence(uow: UnitOfWork, *, limit: int = BATCH) -> Round:
    """Move up to `limit` pending records into the tree. Call it alone in its unit
    of work and commit at once: the tree size stays locked until then."""
    size, frontier = locked_state(uow)
    stmt = _NEXT.limit(limit)
    if uow.dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    # Straight from the driver: these columns need no conversion, and building a
    # row object for each of up to `limit` records took a fifth of a round.
    result = uow.connection.execute(stmt)
    assert result.cursor is not None
    rows = result.cursor.fetchall()
    result.close()
    if not rows:
        return Round(0, size)
    seqs: list[int] = []
    entries: list[Indexed] = []
    for index, (seq, kind, body, customer_id, history) in enumerate(rows, start=size):
        seqs.append(seq)
        entries.append((with_index(body, kind, index), kind, customer_id, history))
    new_size = write_entries(uow, size, frontier, entries)
    conn = uow.connection
    if uow.dialect == "postgresql":
        # By the exact records taken: one submitted earlier but committed later is
        # not among them, and stays for the next round.
        conn.exec_driver_sql("DELETE FROM ledger_pending WHERE seq = ANY(%s)", (seqs,))
    else:
        # SQLite's one writer (this round) sees every committed record, in order.
        conn.execute(ledger_pending.delete().where(ledger_pending.c.seq <= seqs[-1]))
    return Round(len(rows), new_size)


def oldest_pending(uow: UnitOfWork) -> datetime | None:
    """When the longest-waiting pending record was submitted (None: none waits)."""
    found: datetime | None = uow.connection.execute(
        select(func.min(ledger_pending.c.recorded_at))
    ).scalar_one()
    return found


def any_pending(uow: UnitOfWork) -> bool:
    """Whether a record waits (one index look-up, whatever the backlog)."""
    return uow.connection.execute(select(ledger_pending.c.seq).limit(1)).first() is not None


def pending_count(uow: UnitOfWork) -> int:
    counted = uow.connection.execute(select(func.count()).select_from(ledger_pending))
    return int(counted.scalar_one())
