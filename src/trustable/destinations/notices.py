"""Telling destinations that a customer's data must be erased or corrected there.

An erasure or a correction is not done while a copy sent earlier still holds the old
data: every destination that received something of the customer gets a signed
notice, retried with backoff until it answers 2xx (acknowledged) or gives up (dead).
Notices name the customer only by the opaque id destinations already received, and
corrected fields only by name, never by value.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import select, update

from trustable.destinations.outbox import DELIVERED, PENDING, lease_due
from trustable.destinations.service import after_failure
from trustable.destinations.tables import notices, outbox
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.storage.bulk import delete_customer_rows
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

ACKNOWLEDGED = "acknowledged"
_NAMESPACE = uuid.UUID("0b7e7c55-51f2-4e55-9a3c-6f1d2c0e9d41")


@dataclass(frozen=True)
class Notice:
    id: int
    request_id: str
    customer_id: str
    destination: str
    kind: str
    fields: tuple[str, ...]
    idempotency_key: str
    attempts: int

    def body(self, now: datetime) -> bytes:
        return orjson.dumps(
            {
                "id": self.idempotency_key,
                "type": self.kind,
                "customer_id": self.customer_id,
                "request_id": self.request_id,
                "fields": list(self.fields),
                "sent_at": now.isoformat(),
            }
        )


@dataclass(frozen=True)
class NoticeState:
    destination: str
    state: str
    attempts: int
    acknowledged_at: datetime | None


def receivers_of(uow: UnitOfWork, customer_id: str) -> list[str]:
    """Destinations that were sent something of this customer."""
    rows = uow.connection.execute(
        select(outbox.c.destination)
        .where(outbox.c.customer_id == customer_id, outbox.c.state == DELIVERED)
        .distinct()
    ).scalars()
    return sorted(rows)


def erase_outbox(uow: UnitOfWork, customer_id: str) -> int:
    """Delete a customer's queued and past deliveries (nothing more goes out)."""
    return delete_customer_rows(uow, customer_id, {"outbox": outbox})["outbox"]


def enqueue_notices(
    uow: UnitOfWork,
    *,
    request_id: str,
    customer_id: str,
    destinations: Iterable[str],
    kind: str,
    fields: Sequence[str] = (),
    now: datetime,
) -> int:
    rows = [
        {
            "request_id": request_id,
            "customer_id": customer_id,
            "destination": name,
            "kind": kind,
            "fields": " ".join(fields),
            "idempotency_key": str(uuid.uuid5(_NAMESPACE, f"{request_id}\x00{name}")),
            "state": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for name in destinations
    ]
    if rows:
        uow.connection.execute(notices.insert(), rows)
    return len(rows)


def claim_notices(uow: UnitOfWork, *, now: datetime, until: datetime, limit: int) -> list[Notice]:
    """Take due notices for a while (a lease), as deliveries are taken."""
    return [
        Notice(
            r.id,
            r.request_id,
            r.customer_id,
            r.destination,
            r.kind,
            tuple(r.fields.split()),
            r.idempotency_key,
            r.attempts,
        )
        for r in lease_due(uow, notices, now=now, until=until, limit=limit)
    ]


def finish_notices(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    outcomes: Sequence[tuple[Notice, str | None]],
    *,
    now: datetime,
    rng: random.Random,
) -> list[str]:
    """Record a batch of notice attempts: acknowledged on a 2xx (with a ledger entry),
    else pending again after a backoff, or dead at the destination's attempt limit."""
    states = []
    records = []
    for notice, error in outcomes:
        values: dict[str, object]
        if error is None:
            state = ACKNOWLEDGED
            values = {"state": state, "acknowledged_at": now, "last_error": None}
            records.append(
                ledger.Record(
                    kind="notice",
                    customer_id=None,  # an erased customer has no pseudonym any more
                    actor=f"destination:{notice.destination}",
                    detail={
                        "request": notice.request_id,
                        "type": notice.kind,
                        "destination": notice.destination,
                    },
                )
            )
        else:
            retry = after_failure(policy, notice.destination, notice.attempts, now=now, rng=rng)
            state, values = retry.state, retry.values(error)
        uow.connection.execute(update(notices).where(notices.c.id == notice.id).values(**values))
        states.append(state)
    ledger.submit(uow, vault, records, now=now)
    return states


def notice_states(uow: UnitOfWork, request_id: str) -> list[NoticeState]:
    rows = uow.connection.execute(
        select(notices).where(notices.c.request_id == request_id).order_by(notices.c.destination)
    ).all()
    return [NoticeState(r.destination, r.state, r.attempts, r.acknowledged_at) for r in rows]
