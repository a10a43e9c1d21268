"""Collection: from validated Segment messages to stored, minimized, sealed rows.

For one batch, in the caller's unit of work:
1. every identifier is looked up at once (blind index), then each message is given
   its customer in order, joining histories on alias / identify-with-both-ids as far
   as the sender may (a public key joins only anonymous histories to a user, and the
   emails it sends stay claims: docs/identity.md); refused joins are counted and
   logged;
2. consent states of all those customers are loaded at once;
3. each field is kept only when the tracking plan gives it a category that some
   purpose permitted for that customer now may use; the rest is counted, by field
   and reason, without its value;
4. kept values are sealed under the customer's key and written together with the
   message ids (so a retried batch stores nothing twice) and the drop counters;
5. the stored events, with their kept fields, are counted into the policy's segments
   (`segments.service.observe`), whose membership changes join the ledger entries.
The caller commits once: all of it lands, or none.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import bindparam, func, select, tuple_

from trustable.consent.gpc import gpc_purposes, honour_gpc
from trustable.consent.service import Decisions, decisions_for
from trustable.consent.signals import apply_signals
from trustable.destinations import outbox
from trustable.events.merge import merge_histories
from trustable.events.segment import Message
from trustable.events.tables import collection_drops, events, received_messages, traits
from trustable.identity.batch import IdentityBatch
from trustable.identity.contacts import contact_row, record_contacts
from trustable.identity.kinds import SOURCE, Identifier, normalise
from trustable.identity.service import hold_customers, known_customers
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.segments.service import Stored, observe
from trustable.storage.among import among
from trustable.storage.bulk import bulk_insert, delete_customer_rows, driver_time
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import rows_insert, rows_style, run_rows, upsert
from trustable.vault.service import Vault

# What collection writes of each event, in this order (the benchmark copies the same).
EVENT_COLUMNS = (
    "customer_id",
    "message_id",
    "type",
    "occurred_at",
    "received_at",
    "categories",
    "payload",
    "history",
)
NOT_IN_PLAN = "not_in_tracking_plan"
NOT_PERMITTED = "not_permitted"
_TRAIT_IDENTIFIERS = {"traits.email": "email", "traits.phone": "phone"}
_MAX_FIELD_NAME = 200


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int
    fields_kept: int
    fields_dropped: int
    customers_created: int
    customers_merged: int
    joins_refused: int = 0


def _identifiers_of(message: Message) -> list[Identifier]:
    out: list[Identifier] = []
    if message.user_id is not None:
        out.append(("user_id", normalise("user_id", message.user_id)))
    if message.anonymous_id is not None:
        out.append(("anonymous_id", normalise("anonymous_id", message.anonymous_id)))
    return out


class Assigned(NamedTuple):
    """Whose history a message goes to: the live customer, and the history it was
    collected into when that one has been joined into the customer's (else None)."""

    customer: str
    history: str | None


def _assign_customers(
    batch: IdentityBatch, messages: Sequence[Message]
) -> tuple[list[Assigned], list[str]]:
    """Each message's customer, and the type of message behind each of
    `batch.refusals`."""
    wanted: list[Identifier] = []
    for m in messages:
        wanted.extend(_identifiers_of(m))
        if m.previous_id is not None:
            wanted.append(("user_id", normalise("user_id", m.previous_id)))
            wanted.append(("anonymous_id", normalise("anonymous_id", m.previous_id)))
    batch.preload(wanted)
    assigned: list[tuple[str, list[Identifier]]] = []
    refused_by: list[str] = []
    for m in messages:
        named = _identifiers_of(m)
        if m.type == "alias" and m.previous_id is not None and m.user_id is not None:
            user: Identifier = ("user_id", normalise("user_id", m.user_id))
            as_user: Identifier = ("user_id", normalise("user_id", m.previous_id))
            previous = (
                as_user
                if batch.find(as_user)
                else (
                    "anonymous_id",
                    normalise("anonymous_id", m.previous_id),
                )
            )
            customer = batch.join(user, previous)
            if m.anonymous_id is not None:
                batch.attach(customer, ("anonymous_id", normalise("anonymous_id", m.anonymous_id)))
            named = [user, *named]
        elif m.type == "identify" and m.user_id is not None and m.anonymous_id is not None:
            customer = batch.join(*named)
        else:
            customer = batch.resolve(named)
        assigned.append((customer, named))
        refused_by.extend([m.type] * (len(batch.refusals) - len(refused_by)))
    # Histories are read once every join of the batch is known.
    out = []
    for customer, named in assigned:
        live = batch.canonical(customer)
        history = next((batch.history_of(i) for i in named if batch.find(i) == live), None)
        out.append(Assigned(live, history if history != live else None))
    return out, refused_by


def ingest(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    messages: Sequence[Message],
    *,
    now: datetime,
    actor: str,
    trusted: bool,
    gpc: bool = False,
) -> IngestResult:
    """Collect `messages` into the caller's unit of work (which the caller commits).

    `actor` names who sent them (an API key id) for the ledger, which gets one entry
    per message collected, one per pair of histories joined and one per join
    refused. `trusted`: they come from a trusted source (a `collect:server` key),
    which vouches for the identifiers it names and may join any two histories; from
    a public key, emails and phones stay claims and only anonymous histories are
    joined to a user (docs/identity.md). `gpc`: the request carried `Sec-GPC: 1`, an
    opt-out recorded for these customers before any field is kept.
    """
    batch = IdentityBatch(uow, vault, now, trusted=trusted)
    assigned, refused_by = _assign_customers(batch, messages)
    owners = [a.customer for a in assigned]
    # Before anything is written: the customers decided on are still as they were
    # read, and stay so (a join or an erasure committed meanwhile starts this over).
    parties = set(owners).union(*((m.winner, m.loser) for m in batch.merges))
    hold_customers(uow, parties - set(batch.new_customers), exclusive=bool(batch.merges))
    # Read before `flush` writes this batch's identifiers: a history that gets its
    # first user id now was an anonymous visitor's until now.
    known_before: set[str] = set()
    if not trusted and any(m.signals is not None for m in messages):
        known_before = known_customers(uow, set(owners) - set(batch.new_customers))
    merges = batch.flush()
    records: list[ledger.Record] = []
    for merge in merges:
        records.append(
            ledger.Record(
                kind="merge",
                customer_id=merge.winner,
                actor=actor,
                detail={"absorbed": vault.pseudonym(merge.loser)},
            )
        )
        merge_histories(
            uow,
            vault,
            winner=merge.winner,
            loser=merge.loser,
            actor=actor,
            now=now,
            trusted=trusted,
        )
    # Joins refused are counted beside dropped fields, but are not fields.
    joins: Counter[tuple[str, str]] = Counter()
    for refusal, message_type in zip(batch.refusals, refused_by, strict=True):
        records.append(
            ledger.Record(
                kind="join_refused",
                customer_id=batch.canonical(refusal.customer),
                actor=actor,
                detail={
                    "other": vault.pseudonym(batch.canonical(refusal.other)),
                    "reason": refusal.reason,
                },
            )
        )
        joins[(message_type, refusal.reason)] += 1

    fresh = _first_receipts(uow, owners, messages, now)
    duplicates = len(messages) - len(fresh)
    # GPC first and over the banner: its opt-out is recorded as `gpc`, and a banner's
    # choice for a purpose it covers, sent in the same request, is not (docs/consent.md).
    if gpc:
        honour_gpc(uow, vault, policy, owners, now=now, actor=actor)
    signalled = [
        (customer_id, m.signals)
        for customer_id, m in zip(owners, messages, strict=True)
        if m.signals is not None and (customer_id, m.message_id) in fresh
    ]
    apply_signals(
        uow,
        vault,
        policy,
        signalled,
        now=now,
        actor=actor,
        overruled=gpc_purposes(policy) if gpc else (),
        # A public key may narrow a known customer's consent, never widen it.
        narrow_only=known_before if signalled and not trusted else (),
    )
    decisions = decisions_for(uow, policy, set(owners))
    vault.load_keys(set(owners))

    drops: Counter[tuple[str, str]] = Counter()
    received = driver_time(uow, now)
    event_rows: list[tuple[Any, ...]] = []
    trait_rows: dict[tuple[str, str], dict[str, Any]] = {}
    contact_rows: list[dict[str, Any]] = []
    deliveries: list[tuple[str, str, str]] = []
    watched: list[Stored] | None = [] if policy.spec.segments else None
    kept_total = 0
    for (customer_id, history), message in zip(assigned, messages, strict=True):
        if (customer_id, message.message_id) not in fresh:
            continue
        fresh.discard((customer_id, message.message_id))
        kept, categories, refused, unknown = _minimize(
            policy, decisions, customer_id, message, drops
        )
        records.append(
            ledger.Record(
                kind="collect",
                customer_id=customer_id,
                actor=actor,
                detail={
                    "type": message.type,
                    "kept": sorted(categories),
                    "dropped": {NOT_PERMITTED: sorted(refused), NOT_IN_PLAN: unknown},
                },
                history=history,
            )
        )
        if not kept:
            continue
        kept_total += len(kept)
        event_rows.append(
            (
                customer_id,
                message.message_id,
                message.type,
                driver_time(uow, message.occurred_at),
                received,
                " ".join(sorted(categories)),
                seal_event(vault, customer_id, message.message_id, kept),
                history,
            )
        )
        if watched is not None:
            watched.append(
                Stored(customer_id, message.message_id, message.type, message.occurred_at, kept)
            )
        if policy.spec.destinations:
            for destination in outbox.interested(policy, decisions, customer_id, categories):
                deliveries.append((customer_id, destination, message.message_id))
        if message.type == "identify":
            for path, value in kept.items():
                if not path.startswith("traits."):
                    continue
                trait_rows[(customer_id, path[7:])] = {
                    "customer_id": customer_id,
                    "name": path[7:],
                    "category": policy.category_of(path) or "",
                    "value": vault.encrypt(customer_id, "trait:" + path[7:], orjson.dumps(value)),
                    "updated_at": now,
                    "history": history,
                }
                kind = _TRAIT_IDENTIFIERS.get(path)
                if kind is not None and isinstance(value, str) and value.strip():
                    ident = (kind, normalise(kind, value))
                    contact_rows.append(
                        contact_row(
                            vault,
                            customer_id,
                            kind,
                            ident[1],
                            blind_index=batch.blind(ident),
                            verified_by=SOURCE if trusted else None,
                            now=now,
                        )
                    )

    bulk_insert(uow, events, EVENT_COLUMNS, event_rows)
    if trait_rows:
        # In key order, so concurrent batches lock rows in the same order (no deadlock).
        ordered = [trait_rows[key] for key in sorted(trait_rows)]
        upsert(uow, traits, ordered, keys=("customer_id", "name"))
    # From a public key an email or phone is a claim; from a trusted source, a contact.
    record_contacts(uow, contact_rows)
    _count_drops(uow, drops + joins, now)
    outbox.enqueue(uow, deliveries, now=now)
    if watched:
        records.extend(observe(uow, policy, decisions, watched, now=now, actor=actor))
    ledger.submit(uow, vault, records, now=now)
    return IngestResult(
        received=len(messages),
        stored=len(event_rows),
        duplicates=duplicates,
        fields_kept=kept_total,
        fields_dropped=sum(drops.values()),
        customers_created=len(batch.new_customers),
        customers_merged=len(merges),
        joins_refused=len(batch.refusals),
    )


_SAFE_SEGMENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]{0,63}$")


@lru_cache(maxsize=65_536)
def counted_name(path: str) -> str:
    """The name a dropped field is counted under.

    Field names are chosen by whoever sends events, and a careless sender may put a
    value in a name (`properties.ada@example.org`); from the first segment that is not
    a plain identifier on, the name is counted as `*`, so no value reaches the counters.
    """
    segments: list[str] = []
    for segment in path.split("."):
        if not _SAFE_SEGMENT.match(segment):
            segments.append("*")
            break
        segments.append(segment)
    return ".".join(segments)[:_MAX_FIELD_NAME]


def _minimize(
    policy: Policy,
    decisions: Decisions,
    customer_id: str,
    message: Message,
    drops: Counter[tuple[str, str]],
) -> tuple[dict[str, Any], set[str], set[str], int]:
    """(kept fields, their categories, categories refused, count of unknown fields)."""
    kept: dict[str, Any] = {}
    categories: set[str] = set()
    refused: set[str] = set()
    unknown = 0
    permitted = decisions.permitted(customer_id)
    for path, value in message.fields.items():
        if path == "event" and value in policy.spec.event_names:
            # An order's name is purchase history, not behaviour at large.
            named = policy.field_category(path, value)
            category = named if named is not None and policy.serves(permitted, named) else None
        else:
            category = policy.kept_category(permitted, path)
        if category is not None:
            kept[path] = value
            categories.add(category)
            continue
        declared = policy.category_of(path)
        if declared is None:
            unknown += 1
            drops[(counted_name(path), NOT_IN_PLAN)] += 1
        else:
            refused.add(declared)
            drops[(counted_name(path), NOT_PERMITTED)] += 1
    return kept, categories, refused, unknown


_RECEIPT_COLUMNS = ("customer_id", "message_id", "received_at")


def _first_receipts(
    uow: UnitOfWork, owners: Sequence[str], messages: Sequence[Message], now: datetime
) -> set[tuple[str, str]]:
    """Record each (customer, message id) as received; return those seen for the first time.

    One `INSERT … ON CONFLICT DO NOTHING RETURNING`: the rows that come back are new,
    the others were stored by an earlier delivery of the same message (a retry).
    """
    rows = {
        (customer_id, m.message_id): {
            "customer_id": customer_id,
            "message_id": m.message_id,
            "received_at": now,
        }
        for customer_id, m in zip(owners, messages, strict=True)
    }
    style = rows_style(uow)
    stmt = (
        rows_insert(style, received_messages, _RECEIPT_COLUMNS)
        .on_conflict_do_nothing()
        .returning(received_messages.c.customer_id, received_messages.c.message_id)
    )
    # In key order, so two batches sharing message ids (one batch sent to two servers)
    # wait for each other's rows in the same order, never in a circle.
    ordered = [rows[key] for key in sorted(rows)]
    result = run_rows(uow, stmt, style, _RECEIPT_COLUMNS, ordered)
    return {(r[0], r[1]) for r in result}


def _add_counts(stmt: Any) -> dict[str, Any]:
    return {
        "count": collection_drops.c["count"] + stmt.excluded["count"],
        "last_seen_at": stmt.excluded["last_seen_at"],
    }


def _count_drops(uow: UnitOfWork, drops: Counter[tuple[str, str]], now: datetime) -> None:
    rows = [
        {"field": f, "reason": r, "count": n, "last_seen_at": now}
        for (f, r), n in sorted(drops.items())
    ]
    upsert(uow, collection_drops, rows, keys=("field", "reason"), update=_add_counts)


@dataclass(frozen=True)
class DropCount:
    field: str
    reason: str
    count: int
    last_seen_at: datetime


def drop_counts(uow: UnitOfWork) -> list[DropCount]:
    rows = uow.connection.execute(
        select(collection_drops).order_by(
            collection_drops.c["count"].desc(), collection_drops.c.field
        )
    ).all()
    return [DropCount(r.field, r.reason, r._mapping["count"], r.last_seen_at) for r in rows]


def seal_event(vault: Vault, customer_id: str, message_id: str, fields: dict[str, Any]) -> bytes:
    """An event's kept fields as stored: JSON {path: value} sealed under the customer's
    key and bound to the message id, so a payload moved to another event fails to open.
    (`SealedEvent.open_with` is the other way; collection and retention both seal here.)"""
    return vault.encrypt(customer_id, "event:" + message_id, orjson.dumps(fields))


class SealedEvent(NamedTuple):
    """A stored event as it lies: what it is about in clear, its fields sealed.

    A named tuple rather than a dataclass: reads make a thousand at a time."""

    message_id: str
    type: str
    occurred_at: datetime
    categories: tuple[str, ...]
    payload: bytes

    def open(self, vault: Vault, customer_id: str) -> dict[str, Any]:
        return self.open_with(vault.opener(customer_id))

    def open_with(self, opener: Callable[[str, bytes], bytes]) -> dict[str, Any]:
        """Open with `Vault.opener`: for many events of one customer."""
        return open_payload(opener, self.message_id, self.payload)


def open_payload(
    opener: Callable[[str, bytes], bytes], message_id: str, payload: bytes
) -> dict[str, Any]:
    """An event's fields, opened with its customer's `Vault.opener`."""
    fields: dict[str, Any] = orjson.loads(opener("event:" + message_id, payload))
    return fields


@dataclass(frozen=True)
class SealedTrait:
    name: str
    category: str
    value: bytes
    updated_at: datetime

    def open(self, vault: Vault, customer_id: str) -> Any:
        return orjson.loads(vault.decrypt(customer_id, "trait:" + self.name, self.value))


@dataclass(frozen=True)
class StoredEvent:
    message_id: str
    type: str
    occurred_at: datetime
    categories: tuple[str, ...]
    fields: dict[str, Any]


def sealed_events(
    uow: UnitOfWork, customer_id: str, *, limit: int | None = None, newest_first: bool = False
) -> list[SealedEvent]:
    """A customer's kept events, still sealed: callers open only what they may use."""
    order = (
        (events.c.occurred_at.desc(), events.c.id.desc())
        if newest_first
        else (events.c.occurred_at, events.c.id)
    )
    stmt = (
        select(
            events.c.message_id,
            events.c.type,
            events.c.occurred_at,
            events.c.categories,
            events.c.payload,
        )
        .where(events.c.customer_id == customer_id)
        .order_by(*order)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    categories: dict[str, tuple[str, ...]] = {}  # few distinct sets among many events
    found = []
    for message_id, kind, occurred_at, text, payload in uow.connection.execute(stmt).all():
        cats = categories.get(text)
        if cats is None:
            cats = categories[text] = tuple(text.split())
        found.append(SealedEvent(message_id, kind, occurred_at, cats, payload))
    return found


def customers_with_events(uow: UnitOfWork, customer_ids: Iterable[str], *, kind: str) -> set[str]:
    """Those of `customer_ids` who have kept events of type `kind`, in one query per
    500: a reader about to open many customers' events skips those with none."""
    wanted = sorted(set(customer_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        found.update(
            uow.connection.execute(
                select(events.c.customer_id)
                .where(
                    among(uow.dialect, events.c.customer_id, wanted[start : start + 500]),
                    events.c.type == kind,
                )
                .distinct()
            ).scalars()
        )
    return found


def sealed_payloads(
    uow: UnitOfWork, customer_id: str, *, kind: str
) -> list[tuple[str, tuple[str, ...], bytes]]:
    """A customer's events of one type, oldest first, as (message id, categories,
    sealed payload): for readers that need neither times nor types, every read
    (recommendations) pays for no more than it uses."""
    rows = uow.connection.execute(
        select(events.c.message_id, events.c.categories, events.c.payload)
        .where(events.c.customer_id == customer_id, events.c.type == kind)
        .order_by(events.c.occurred_at, events.c.id)
    ).all()
    categories: dict[str, tuple[str, ...]] = {}
    found = []
    for message_id, text, payload in rows:
        cats = categories.get(text)
        if cats is None:
            cats = categories[text] = tuple(text.split())
        found.append((message_id, cats, payload))
    return found


_MARKER = select(func.count(), func.max(events.c.id)).where(
    events.c.customer_id == bindparam("customer_id")
)


def events_marker(uow: UnitOfWork, customer_id: str) -> tuple[int, int]:
    """(how many events the customer has, the newest one's id): changes when they
    send something that is kept, and when events of theirs are deleted."""
    count, newest = uow.connection.execute(_MARKER, {"customer_id": customer_id}).one()
    return int(count), int(newest or 0)


def sealed_events_page(
    uow: UnitOfWork,
    customer_id: str,
    *,
    after: tuple[datetime, int] | None = None,
    limit: int = 500,
) -> list[tuple[tuple[datetime, int], SealedEvent]]:
    """A customer's events oldest first, from just after the position `after` (as
    returned with the last event of the page before): long histories page by page."""
    stmt = (
        select(
            events.c.id,
            events.c.message_id,
            events.c.type,
            events.c.occurred_at,
            events.c.categories,
            events.c.payload,
        )
        .where(events.c.customer_id == customer_id)
        .order_by(events.c.occurred_at, events.c.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(events.c.occurred_at, events.c.id) > tuple_(*after))
    return [
        (
            (r.occurred_at, r.id),
            SealedEvent(
                r.message_id, r.type, r.occurred_at, tuple(r.categories.split()), r.payload
            ),
        )
        for r in uow.connection.execute(stmt).all()
    ]


def sealed_events_by_message(
    uow: UnitOfWork, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], SealedEvent]:
    """Stored events named by (customer, message id), still sealed, in one look-up;
    a pair with no stored event is absent from the answer."""
    pairs = list(dict.fromkeys(wanted))
    if not pairs:
        return {}
    rows = uow.connection.execute(
        select(
            events.c.customer_id,
            events.c.message_id,
            events.c.type,
            events.c.occurred_at,
            events.c.categories,
            events.c.payload,
        ).where(tuple_(events.c.customer_id, events.c.message_id).in_(pairs))
    )
    found: dict[tuple[str, str], SealedEvent] = {}
    for r in rows:
        found.setdefault(
            (r.customer_id, r.message_id),
            SealedEvent(
                r.message_id, r.type, r.occurred_at, tuple(r.categories.split()), r.payload
            ),
        )
    return found


def sealed_traits(uow: UnitOfWork, customer_id: str) -> list[SealedTrait]:
    rows = uow.connection.execute(
        select(traits).where(traits.c.customer_id == customer_id).order_by(traits.c.name)
    )
    return [SealedTrait(r.name, r.category, r.value, r.updated_at) for r in rows]


def customer_events(uow: UnitOfWork, vault: Vault, customer_id: str) -> list[StoredEvent]:
    """A customer's kept events, opened with their key, oldest first."""
    return [
        StoredEvent(e.message_id, e.type, e.occurred_at, e.categories, e.open(vault, customer_id))
        for e in sealed_events(uow, customer_id)
    ]


def customer_traits(uow: UnitOfWork, vault: Vault, customer_id: str) -> dict[str, Any]:
    """A customer's current traits, opened with their key."""
    return {t.name: t.open(vault, customer_id) for t in sealed_traits(uow, customer_id)}


def event_counts(uow: UnitOfWork, customer_id: str) -> dict[str, int]:
    """How many events of each message type a customer has (the portal's summary):
    read from the index, never from a payload."""
    rows = uow.connection.execute(
        select(events.c.type, func.count())
        .where(events.c.customer_id == customer_id)
        .group_by(events.c.type)
    )
    return {str(kind): int(n) for kind, n in rows}


def stored_categories(uow: UnitOfWork) -> set[str]:
    """Every category under which anything is stored (events and traits), for audits."""
    found: set[str] = set()
    for (text,) in uow.connection.execute(select(events.c.categories).distinct()):
        found.update(text.split())
    found.update(c for (c,) in uow.connection.execute(select(traits.c.category).distinct()))
    return found


def erase_events(uow: UnitOfWork, customer_id: str) -> dict[str, int]:
    """Delete a customer's events, traits and received message ids (erasure)."""
    return delete_customer_rows(
        uow,
        customer_id,
        {"events": events, "traits": traits, "received_messages": received_messages},
    )


def correct_trait(
    uow: UnitOfWork, vault: Vault, customer_id: str, name: str, value: Any, *, now: datetime
) -> int:
    """Replace a trait's value wherever this customer's data holds it: the trait row
    and every stored event that carried it (identify calls). The old value is
    overwritten, not kept. The number of rows changed (0: none held it)."""
    path = "traits." + name
    sealed = vault.encrypt(customer_id, "trait:" + name, orjson.dumps(value))
    changed = int(
        uow.connection.execute(
            traits.update()
            .where(traits.c.customer_id == customer_id, traits.c.name == name)
            .values(value=sealed, updated_at=now)
        ).rowcount
    )
    opener = vault.opener(customer_id)
    rows = uow.connection.execute(
        select(events.c.id, events.c.message_id, events.c.payload).where(
            events.c.customer_id == customer_id, events.c.type == "identify"
        )
    ).all()
    for row in rows:
        field = "event:" + row.message_id
        fields = orjson.loads(opener(field, row.payload))
        if path not in fields:
            continue
        fields[path] = value
        uow.connection.execute(
            events.update()
            .where(events.c.customer_id == customer_id, events.c.id == row.id)
            .values(payload=vault.encrypt(customer_id, field, orjson.dumps(fields)))
        )
        changed += 1
    return changed
