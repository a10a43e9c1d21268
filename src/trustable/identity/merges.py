"""The record of joined histories, and moving identifiers between them both ways:
what a join does to identifiers and what undoing it gives back (events.merge moves
the rest)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from trustable.core.ids import new_id
from trustable.identity.tables import customers, identifiers, merges
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault


def move_identifiers(uow: UnitOfWork, vault: Vault, winner: str, loser: str) -> None:
    """Re-seal `loser`'s identifiers under `winner`'s key and give them to `winner`,
    each remembering the history it came from.

    An address both hold is kept once, vouched if either was."""
    conn = uow.connection
    mine = {
        (r.kind, r.blind_index): r
        for r in conn.execute(
            select(
                identifiers.c.id,
                identifiers.c.kind,
                identifiers.c.blind_index,
                identifiers.c.verified_by,
            ).where(identifiers.c.customer_id == winner)
        )
    }
    rows = conn.execute(select(identifiers).where(identifiers.c.customer_id == loser)).all()
    for row in rows:
        same = mine.get((row.kind, row.blind_index))
        if same is not None:
            if same.verified_by is None and row.verified_by is not None:
                conn.execute(
                    update(identifiers)
                    .where(identifiers.c.id == same.id)
                    .values(verified_by=row.verified_by, verified_at=row.verified_at)
                )
            conn.execute(delete(identifiers).where(identifiers.c.id == row.id))
            continue
        plain = vault.decrypt(loser, "identifier", row.value)
        conn.execute(
            update(identifiers)
            .where(identifiers.c.id == row.id)
            .values(
                customer_id=winner,
                value=vault.encrypt(winner, "identifier", plain),
                history=row.history or loser,
            )
        )


def return_identifiers(
    uow: UnitOfWork, vault: Vault, *, holder: str, to: str, histories: Sequence[str]
) -> int:
    """Undoing a merge: the identifiers that came from `histories` go back to `to`,
    sealed under its key again. How many moved."""
    conn = uow.connection
    rows = conn.execute(
        select(identifiers.c.id, identifiers.c.value, identifiers.c.history).where(
            identifiers.c.customer_id == holder, identifiers.c.history.in_(list(histories))
        )
    ).all()
    for row in rows:
        plain = vault.decrypt(holder, "identifier", row.value)
        conn.execute(
            update(identifiers)
            .where(identifiers.c.id == row.id)
            .values(
                customer_id=to,
                value=vault.encrypt(to, "identifier", plain),
                history=None if row.history == to else row.history,
            )
        )
    return len(rows)


def mark_merged(uow: UnitOfWork, winner: str, loser: str) -> None:
    uow.connection.execute(
        update(customers).where(customers.c.customer_id == loser).values(merged_into=winner)
    )


@dataclass(frozen=True)
class MergeRecord:
    """One join of two histories, as the privacy team sees it: ids, never values."""

    merge_id: str
    winner: str
    loser: str
    merged_at: datetime
    actor: str
    undone_at: datetime | None
    undone_by: str | None


def record_merge(uow: UnitOfWork, *, winner: str, loser: str, actor: str, now: datetime) -> str:
    merge_id = new_id("mrg")
    uow.connection.execute(
        insert(merges).values(
            merge_id=merge_id, customer_id=winner, absorbed=loser, merged_at=now, actor=actor
        )
    )
    return merge_id


def _merge_record(row: Any) -> MergeRecord:
    return MergeRecord(
        merge_id=row.merge_id,
        winner=row.customer_id,
        loser=row.absorbed,
        merged_at=row.merged_at,
        actor=row.actor,
        undone_at=row.undone_at,
        undone_by=row.undone_by,
    )


def get_merge(uow: UnitOfWork, merge_id: str) -> MergeRecord | None:
    row = uow.connection.execute(select(merges).where(merges.c.merge_id == merge_id)).first()
    return None if row is None else _merge_record(row)


def list_merges(
    uow: UnitOfWork, *, customer_id: str | None = None, limit: int = 100
) -> list[MergeRecord]:
    """The newest joins first; with `customer_id`, those it took part in."""
    stmt = select(merges).order_by(merges.c.merged_at.desc(), merges.c.merge_id).limit(limit)
    if customer_id is not None:
        stmt = stmt.where(
            (merges.c.customer_id == customer_id) | (merges.c.absorbed == customer_id)
        )
    return [_merge_record(row) for row in uow.connection.execute(stmt)]


def absorbed_histories(uow: UnitOfWork, customer_id: str) -> list[str]:
    """`customer_id` and every history joined into it, and into those, still joined."""
    found = [customer_id]
    frontier = [customer_id]
    while frontier:
        frontier = list(
            uow.connection.execute(
                select(customers.c.customer_id).where(customers.c.merged_into.in_(frontier))
            ).scalars()
        )
        found.extend(frontier)
    return found


def mark_unmerged(
    uow: UnitOfWork, merge_id: str, customer_id: str, *, actor: str, now: datetime
) -> None:
    uow.connection.execute(
        update(customers).where(customers.c.customer_id == customer_id).values(merged_into=None)
    )
    uow.connection.execute(
        update(merges).where(merges.c.merge_id == merge_id).values(undone_at=now, undone_by=actor)
    )
