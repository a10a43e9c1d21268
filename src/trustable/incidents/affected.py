"""Exactly who an incident affects, and with which of their data, from the stores.

- The data store, the key store or a backup: every customer whose data of the
  incident's categories was held during the window, i.e. stored (`events.received_at`)
  no later than the window's end and not erased before it (an erased customer's rows
  are gone, and their key with them: what leaked of them is unreadable). A backup
  holds what the store held when it was taken: the window is when backups were taken.
- A destination: every customer whose data of those categories was delivered to it
  within the window (delivered outbox rows, the ledger's `share` entries beside them),
  narrowed to the categories the destination's purposes may receive at all.

Records are stored events (one collected message each). It is one SQL statement over
each table, grouped by customer, never a loop over sealed bodies: nothing is decrypted
to answer, and 10^6 entries take seconds (bench section 10).

What the store held in the window but no longer holds because a retention sweep
deleted (or trimmed) it since the window opened is read from the ledger: each sweep's
`retention` entry says of whom, when, which categories and how many events. Those
customers are affected too, with those events counted as records. A sweep more than
a retention period after the window may have deleted data that came after the window
closed; it is counted all the same: a notice too many rather than one missing.

Traits are not counted apart: each one came with an `identify` event that is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import and_, case, func, literal, select, update

from trustable.destinations.tables import outbox
from trustable.events.tables import events
from trustable.incidents.service import NoticeState, Store
from trustable.incidents.tables import incident_customers, incidents
from trustable.ledger.service import stamp
from trustable.ledger.tables import ledger_entries, ledger_pending
from trustable.policy.service import Policy, overlap
from trustable.storage.bulk import bulk_insert
from trustable.storage.uow import UnitOfWork

DELIVERED = "delivered"


@dataclass
class Affected:
    """customer id -> (their affected categories, records), and the totals."""

    customers: dict[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)
    note: str | None = None  # why the set is empty when it is empty by construction

    @property
    def people(self) -> int:
        return len(self.customers)

    @property
    def records(self) -> int:
        return sum(n for _, n in self.customers.values())

    def by_category(self) -> dict[str, int]:
        """category -> how many affected customers had it."""
        counts: dict[str, int] = {}
        for categories, _ in self.customers.values():
            for category in categories:
                counts[category] = counts.get(category, 0) + 1
        return dict(sorted(counts.items()))


def holds(stored: str, category: str) -> bool:
    """Does a space-separated list of stored categories hold data of `category`? Its
    own key, a narrower one (`user.contact` holds `user.contact.email`) or a broader
    one a field was declared under (a `user.contact` field may hold an email)."""
    return any(overlap(kept, category) for kept in stored.split())


def destination_categories(policy: Policy, destination: str, wanted: Sequence[str]) -> list[str]:
    """The categories of `wanted` the destination's purposes may receive at all."""
    spec = policy.spec.destinations[destination]
    used = [
        c
        for key in spec.purposes
        if key in policy.spec.purposes
        for c in policy.spec.purposes[key].categories
    ]
    return [c for c in wanted if any(overlap(u, c) for u in used)]


def compute_affected(
    uow: UnitOfWork,
    policy: Policy,
    *,
    store: Store,
    destination: str | None,
    categories: Sequence[str],
    window_start: datetime,
    window_end: datetime,
) -> Affected:
    wanted = list(categories)
    if store is Store.destination:
        assert destination is not None
        wanted = destination_categories(policy, destination, wanted)
        if not wanted:
            return Affected(note="the destination's purposes receive none of these categories")
    # Events store their categories as a few distinct strings (one per kind of
    # message): which of them hold which category is decided once per string here,
    # and the store is then asked with plain equality, never a pattern per row.
    distinct = [
        str(row[0]) for row in uow.connection.execute(select(events.c.categories).distinct())
    ]
    holding = {c: [s for s in distinct if holds(s, c)] for c in wanted}
    relevant = sorted({s for strings in holding.values() for s in strings})
    if not relevant:
        return Affected(note="no stored data is of these categories")
    per_category = [
        func.sum(case((events.c.categories.in_(holding[c]), 1), else_=0))
        if holding[c]
        else literal(0)
        for c in wanted
    ]
    # Grouped by an expression on SQLite: grouped by the bare column, its planner walks
    # the (customer_id, occurred_at) index and fetches each row out of order, 4-5
    # times slower than one pass over the table and a sort.
    if store is Store.destination:
        who = outbox.c.customer_id
        key = who if uow.dialect == "postgresql" else who.concat("")
        stmt = (
            select(key, func.count(), *per_category)
            .select_from(
                outbox.join(
                    events,
                    and_(
                        events.c.customer_id == outbox.c.customer_id,
                        events.c.message_id == outbox.c.message_id,
                    ),
                )
            )
            .where(
                outbox.c.destination == destination,
                outbox.c.state == DELIVERED,
                outbox.c.finished_at >= window_start,
                outbox.c.finished_at <= window_end,
                events.c.categories.in_(relevant),
            )
            .group_by(key)
        )
    else:
        who = events.c.customer_id
        key = who if uow.dialect == "postgresql" else who.concat("")
        stmt = (
            select(key, func.count(), *per_category)
            .where(events.c.received_at <= window_end, events.c.categories.in_(relevant))
            .group_by(key)
        )
    found = Affected()
    for row in uow.connection.execute(stmt):
        customer_id, records, *hits = row
        held = tuple(c for c, n in zip(wanted, hits, strict=True) if n)
        if held:
            found.customers[str(customer_id)] = (held, int(records))
    if store is not Store.destination:
        for customer_id, (swept, records) in swept_since(uow, wanted, window_start).items():
            held, before = found.customers.get(customer_id, ((), 0))
            merged = tuple(c for c in wanted if c in held or c in swept)
            found.customers[customer_id] = (merged, before + records)
    return found


def swept_since(
    uow: UnitOfWork, wanted: Sequence[str], window_start: datetime
) -> dict[str, tuple[set[str], int]]:
    """customer id -> (categories of `wanted`, events) that retention sweeps deleted or
    trimmed after `window_start`, from the ledger's `retention` entries of customers
    still held (erasure clears an entry's `customer_id`, and with the key goes what
    leaked of them), those still being logged included."""
    opened = stamp(window_start)  # fixed width: compared as text, as the ledger writes it
    swept: dict[str, tuple[set[str], int]] = {}
    rows = [
        row
        for table in (ledger_entries, ledger_pending)
        for row in uow.connection.execute(
            select(table.c.customer_id, table.c.body).where(
                table.c.kind == "retention", table.c.customer_id.is_not(None)
            )
        )
    ]
    for customer_id, body in rows:
        entry = orjson.loads(body)
        if entry["at"] <= opened:
            continue  # deleted before the window opened: not there to be taken
        detail = entry["detail"]
        kinds = " ".join(detail.get("categories", ()))
        hit = {c for c in wanted if holds(kinds, c)}
        events_gone = int(detail.get("events_deleted", 0)) + int(detail.get("events_trimmed", 0))
        if hit and (events_gone or detail.get("traits_deleted")):
            categories, records = swept.get(str(customer_id), (set(), 0))
            swept[str(customer_id)] = (categories | hit, records + events_gone)
    return swept


_CUSTOMER_COLUMNS = ("incident_id", "customer_id", "categories", "records", "notice")


def keep_affected(uow: UnitOfWork, incident_id: str, found: Affected, *, now: datetime) -> None:
    """Store the affected set (one row per customer) and the incident's totals."""
    rows = [
        (incident_id, customer_id, " ".join(held), records, NoticeState.pending.value)
        for customer_id, (held, records) in sorted(found.customers.items())
    ]
    for start in range(0, len(rows), 10_000):
        bulk_insert(uow, incident_customers, _CUSTOMER_COLUMNS, rows[start : start + 10_000])
    uow.connection.execute(
        update(incidents)
        .where(incidents.c.incident_id == incident_id)
        .values(
            people=found.people,
            records=found.records,
            by_category=orjson.dumps(found.by_category()).decode(),
            computed_at=now,
        )
    )


@dataclass(frozen=True)
class AffectedCustomer:
    customer_id: str
    categories: tuple[str, ...]
    records: int
    notice: NoticeState
    notice_at: datetime | None


def affected_customers(
    uow: UnitOfWork, incident_id: str, *, limit: int | None = None
) -> list[AffectedCustomer]:
    stmt = (
        select(incident_customers)
        .where(incident_customers.c.incident_id == incident_id)
        .order_by(incident_customers.c.customer_id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        AffectedCustomer(
            r.customer_id,
            tuple(r.categories.split()),
            int(r.records),
            NoticeState(r.notice),
            r.notice_at,
        )
        for r in uow.connection.execute(stmt)
    ]
