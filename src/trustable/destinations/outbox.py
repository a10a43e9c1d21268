"""Filling the outbox, inside the transaction that collects the events.

Kept apart from `destinations.service` (which reads stored events to deliver them)
so that collection can queue deliveries without the two depending on each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, select, update

from trustable.consent.service import Decisions
from trustable.destinations.tables import outbox
from trustable.policy.service import Policy
from trustable.storage.bulk import bulk_insert, driver_time
from trustable.storage.partitions import PARTITIONED
from trustable.storage.uow import UnitOfWork

PENDING, DELIVERED, SKIPPED, DEAD = "pending", "delivered", "skipped", "dead"
_NAMESPACE = uuid.UUID("5f0c6b7e-3d1a-4c2b-9a8e-7b6d5c4e3f21")
_COLUMNS = (
    "customer_id",
    "destination",
    "message_id",
    "idempotency_key",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
)


def idempotency_key(destination: str, customer_id: str, message_id: str) -> str:
    """The same for every attempt of one delivery, so a receiver can drop repeats."""
    return str(uuid.uuid5(_NAMESPACE, f"{destination}\x00{customer_id}\x00{message_id}"))


def interested(
    policy: Policy, decisions: Decisions, customer_id: str, categories: Iterable[str]
) -> list[str]:
    """Destinations that may receive something of an event with these categories now."""
    cats = list(categories)
    return [
        name
        for name, spec in policy.spec.destinations.items()
        if any(decisions.may(customer_id, p, c) for p in spec.purposes for c in cats)
    ]


def enqueue(uow: UnitOfWork, items: Sequence[tuple[str, str, str]], *, now: datetime) -> None:
    """Queue (customer, destination, message id) deliveries in the caller's transaction."""
    stamp = driver_time(uow, now)
    rows = [
        (
            customer_id,
            destination,
            message_id,
            idempotency_key(destination, customer_id, message_id),
            PENDING,
            0,
            stamp,
            stamp,
        )
        for customer_id, destination, message_id in items
    ]
    bulk_insert(uow, outbox, _COLUMNS, rows)


def lease_due(
    uow: UnitOfWork, table: Table, *, now: datetime, until: datetime, limit: int
) -> Sequence[Row[Any]]:
    """Take the pending rows of `table` (the outbox, or the notices) due by `now`, for
    a while: their next attempt moves to `until`, so two workers never both send them.
    On PostgreSQL rows another worker is taking are skipped, not waited for."""
    due = (table.c.state == PENDING, table.c.next_attempt_at <= now)
    stmt = select(table).where(*due).order_by(table.c.next_attempt_at, table.c.id).limit(limit)
    if uow.distributed and table.name in PARTITIONED:  # spread over the shards
        return _lease_by_update(uow, table, stmt, due, until)
    if uow.dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = uow.connection.execute(stmt).all()
    if rows:
        # Naming the customers lets a store partitioned by customer touch only theirs.
        uow.connection.execute(
            update(table)
            .where(
                table.c.customer_id.in_(sorted({r.customer_id for r in rows})),
                table.c.id.in_([r.id for r in rows]),
            )
            .values(next_attempt_at=until)
        )
    return rows


def _lease_by_update(
    uow: UnitOfWork, table: Table, stmt: Any, due: tuple[Any, ...], until: datetime
) -> Sequence[Row[Any]]:
    """On Citus, where rows of many shards cannot be locked by one `SELECT … FOR
    UPDATE`: read the due rows, then take them with an `UPDATE` that checks again
    that each is still due. A row another worker took meanwhile no longer is, so it is
    left out, and no row is ever taken twice."""
    seen = uow.connection.execute(stmt).all()
    if not seen:
        return []
    taken = uow.connection.execute(
        update(table)
        .where(
            table.c.customer_id.in_(sorted({r.customer_id for r in seen})),
            table.c.id.in_([r.id for r in seen]),
            *due,
        )
        .values(next_attempt_at=until)
        .returning(table.c.id)
    ).scalars()
    kept = set(taken)
    return [r for r in seen if r.id in kept]
