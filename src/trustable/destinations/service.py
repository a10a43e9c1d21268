"""Sharing with destinations: consent decides at delivery time, every share is logged.

Collection puts one outbox row per stored event and interested destination in its
own transaction. The worker then, per row: opens the event, keeps only the fields
whose category one of the destination's purposes uses AND this customer permits
for it *now*, signs the request (HMAC-SHA256), posts it, and on a 2xx marks it
delivered with a `share` ledger entry. Failures are retried with exponential backoff
and jitter until `max_attempts`, then the row is dead and shown by the API. Delivery
is at least once: every attempt carries the same `Idempotency-Key`.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import func, select, update

from trustable.consent.service import Decisions, decisions_for
from trustable.core.errors import ConfigurationError, NotFound
from trustable.destinations.outbox import DEAD, DELIVERED, PENDING, SKIPPED, lease_due
from trustable.destinations.sender import Sender, target
from trustable.destinations.tables import outbox
from trustable.events.service import SealedEvent, sealed_events_by_message
from trustable.identity.service import list_identifiers
from trustable.ledger import service as ledger
from trustable.policy.schemas import DestinationSpec
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

LEASE = timedelta(seconds=60)
BASE_DELAY = 1.0
MAX_DELAY = 300.0


def check_destinations(policy: Policy, own_host: str, own_port: int) -> None:
    """Refuse a destination that points back at Trustable itself (a delivery loop)."""
    own = {own_host, "localhost", "127.0.0.1", "::1", "0.0.0.0"}
    for name, spec in policy.spec.destinations.items():
        parts = urlsplit(spec.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if (parts.hostname or "") in own and port == own_port:
            raise ConfigurationError(
                f"destination {name} points back at this Trustable ({own_host}:{own_port})"
            )


# -- the worker's side ------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    id: int
    customer_id: str
    destination: str
    message_id: str
    idempotency_key: str
    attempts: int


@dataclass(frozen=True)
class Prepared:
    """A delivery ready to post: its body (consent-filtered) and what it shares."""

    delivery: Delivery
    body: bytes | None  # None: nothing may be sent any more
    purposes: tuple[str, ...]
    categories: tuple[str, ...]


def claim(uow: UnitOfWork, *, now: datetime, limit: int = 100) -> list[Delivery]:
    """Take due deliveries for a while (a lease), so two workers do not both send them."""
    rows = lease_due(uow, outbox, now=now, until=now + LEASE, limit=limit)
    return [
        Delivery(r.id, r.customer_id, r.destination, r.message_id, r.idempotency_key, r.attempts)
        for r in rows
    ]


def prepare_many(
    uow: UnitOfWork, vault: Vault, policy: Policy, deliveries: Sequence[Delivery]
) -> list[Prepared]:
    """Prepare a claimed batch: its events and its customers' consent in one read each."""
    decisions = decisions_for(uow, policy, {d.customer_id for d in deliveries})
    found = sealed_events_by_message(uow, ((d.customer_id, d.message_id) for d in deliveries))
    user_ids: dict[str, str | None] = {}
    return [
        _prepare(
            uow, vault, policy, d, found.get((d.customer_id, d.message_id)), decisions, user_ids
        )
        for d in deliveries
    ]


def _prepare(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    delivery: Delivery,
    event: SealedEvent | None,
    decisions: Decisions,
    user_ids: dict[str, str | None],
) -> Prepared:
    """Open the event and keep what the destination's purposes may use now."""
    spec = policy.spec.destinations.get(delivery.destination)
    if spec is None or event is None:
        return Prepared(delivery, None, (), ())
    customer_id = delivery.customer_id
    name: str | None = None
    fields: dict[str, Any] = {}
    shared: set[str] = set()
    used: set[str] = set()
    for path, value in event.open(vault, customer_id).items():
        category = policy.field_category(path, value)
        if category is None:
            continue
        allowed = [p for p in spec.purposes if decisions.may(customer_id, p, category)]
        if allowed:
            if path == "event":
                name = value  # beside `type`, where a receiver looks for it
            else:
                fields[spec.mapping.get(path, path)] = value
            shared.add(category)
            used.update(allowed)
    if not used:
        return Prepared(delivery, None, (), ())
    # What the message is and its id always go: a receiver can tell an order from a
    # page view, and drop a message it already has, even when it may see no more.
    body: dict[str, Any] = {
        "id": delivery.idempotency_key,
        "messageId": delivery.message_id,
        "type": event.type,
    }
    if name is not None:
        body["event"] = name
    body.update(
        occurred_at=event.occurred_at.isoformat(),
        customer_id=customer_id,
        purposes=sorted(used),
        fields=fields,
    )
    if any(decisions.may(customer_id, p, "user.unique_id") for p in spec.purposes):
        # The company's own user id, only for a destination whose purposes may use ids.
        if customer_id not in user_ids:
            user_ids[customer_id] = _user_id(uow, vault, customer_id)
        if user_ids[customer_id] is not None:
            body["userId"] = user_ids[customer_id]
            shared.add("user.unique_id")
    return Prepared(delivery, orjson.dumps(body), tuple(sorted(used)), tuple(sorted(shared)))


def _user_id(uow: UnitOfWork, vault: Vault, customer_id: str) -> str | None:
    ids = [value for kind, value in list_identifiers(uow, vault, customer_id) if kind == "user_id"]
    return ids[0] if ids else None


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`X-Trustable-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def post(
    sender: Sender, spec: DestinationSpec, body: bytes, key: str, secret: bytes, now: datetime
) -> str | None:
    """Send one signed body with its idempotency key; None on a 2xx, else a short
    reason (never a value)."""
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "X-Trustable-Signature": signature(secret, int(now.timestamp()), body),
        "User-Agent": "Trustable-Destinations/1",
    }
    return sender.post(target(spec.url, spec.timeout_seconds), body, headers)


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """Exponential backoff with full jitter: up to BASE·2^attempts, capped."""
    ceiling = min(MAX_DELAY, BASE_DELAY * (2**attempts))
    return timedelta(seconds=ceiling * (0.5 + rng.random() / 2))


@dataclass(frozen=True)
class Retry:
    """Where a failed attempt leaves a delivery or a notice."""

    state: str  # pending again, or dead
    attempts: int
    next_attempt_at: datetime

    def values(self, error: str) -> dict[str, Any]:
        return {
            "state": self.state,
            "attempts": self.attempts,
            "last_error": error[:200],
            "next_attempt_at": self.next_attempt_at,
        }


def after_failure(
    policy: Policy, destination: str, attempts_before: int, *, now: datetime, rng: random.Random
) -> Retry:
    """One more failed attempt: pending again after a backoff, or dead at the
    destination's `max_attempts` (at once if it is no longer declared)."""
    spec = policy.spec.destinations.get(destination)
    attempts = attempts_before + 1
    limit = spec.max_attempts if spec is not None else 1
    state = DEAD if attempts >= limit else PENDING
    return Retry(state, attempts, now + backoff(attempts, rng))


def finish_many(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    outcomes: Sequence[tuple[Prepared, str | None]],
    *,
    now: datetime,
    rng: random.Random,
) -> list[str]:
    """Record the outcomes of a batch of attempts, and one ledger `share` entry per
    delivery made (appended together); the new state of each."""
    states: list[str] = []
    shares: list[ledger.Record] = []
    finished: dict[str, list[Delivery]] = {DELIVERED: [], SKIPPED: []}
    for prepared, error in outcomes:
        delivery = prepared.delivery
        if prepared.body is None:
            state = SKIPPED
        elif error is None:
            state = DELIVERED
            shares.append(
                ledger.Record(
                    kind="share",
                    customer_id=delivery.customer_id,
                    actor=f"destination:{delivery.destination}",
                    detail={
                        "destination": delivery.destination,
                        "purposes": list(prepared.purposes),
                        "categories": list(prepared.categories),
                    },
                )
            )
        else:
            state = _failed(uow, policy, delivery, error, now=now, rng=rng)
        if state in finished:
            finished[state].append(delivery)
        states.append(state)
    for state, ended in finished.items():
        if ended:  # one statement for all the batch's rows that ended alike
            uow.connection.execute(
                update(outbox)
                .where(
                    # Their customers, so a partitioned store touches only theirs.
                    outbox.c.customer_id.in_(sorted({d.customer_id for d in ended})),
                    outbox.c.id.in_([d.id for d in ended]),
                )
                .values(state=state, finished_at=now, last_error=None)
            )
    ledger.submit(uow, vault, shares, now=now)
    return states


def _failed(
    uow: UnitOfWork,
    policy: Policy,
    delivery: Delivery,
    error: str,
    *,
    now: datetime,
    rng: random.Random,
) -> str:
    """Record a failed attempt: pending again after a backoff, or dead at the limit."""
    retry = after_failure(policy, delivery.destination, delivery.attempts, now=now, rng=rng)
    uow.connection.execute(
        update(outbox)
        .where(outbox.c.customer_id == delivery.customer_id, outbox.c.id == delivery.id)
        .values(
            **retry.values(error),
            finished_at=now if retry.state == DEAD else None,
        )
    )
    return retry.state


# -- reading the outbox --------------------------------------------------------------------


@dataclass(frozen=True)
class DestinationStatus:
    name: str
    url: str
    purposes: tuple[str, ...]
    counts: dict[str, int]


def status(uow: UnitOfWork, policy: Policy) -> list[DestinationStatus]:
    rows = uow.connection.execute(
        select(outbox.c.destination, outbox.c.state, func.count()).group_by(
            outbox.c.destination, outbox.c.state
        )
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for name, state, n in rows:
        counts.setdefault(name, {})[state] = int(n)
    return [
        DestinationStatus(
            name=name,
            url=spec.url,
            purposes=tuple(spec.purposes),
            counts={s: counts.get(name, {}).get(s, 0) for s in (PENDING, DELIVERED, SKIPPED, DEAD)},
        )
        for name, spec in policy.spec.destinations.items()
    ]


@dataclass(frozen=True)
class DeadLetter:
    id: int
    customer_id: str
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


def dead_letters(uow: UnitOfWork, policy: Policy, name: str) -> list[DeadLetter]:
    if name not in policy.spec.destinations:
        raise NotFound(f"no destination named {name}", code="unknown_destination")
    rows = uow.connection.execute(
        select(outbox)
        .where(outbox.c.destination == name, outbox.c.state == DEAD)
        .order_by(outbox.c.id)
    ).all()
    return [
        DeadLetter(r.id, r.customer_id, r.attempts, r.last_error, r.created_at, r.finished_at)
        for r in rows
    ]


def retry_dead(uow: UnitOfWork, policy: Policy, name: str, *, now: datetime) -> int:
    """Put a destination's dead deliveries back in the queue (after fixing the receiver)."""
    if name not in policy.spec.destinations:
        raise NotFound(f"no destination named {name}", code="unknown_destination")
    result = uow.connection.execute(
        update(outbox)
        .where(outbox.c.destination == name, outbox.c.state == DEAD)
        .values(state=PENDING, attempts=0, next_attempt_at=now, finished_at=None)
    )
    return int(result.rowcount)
