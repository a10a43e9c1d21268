"""Retention: data past its category's retention is deleted, and every deletion is logged.

A category may be kept as long as the LONGEST `retention_days` among the policy's
purposes that use it: while one purpose may still use it, it stays for that purpose.
A category no purpose uses has no basis to be kept at all (`policy audit` reports
such a category as having no retention) and goes at the next sweep, however young.

What is swept, and from when:
- events, from `occurred_at` (when the event happened, after Segment's clock-skew
  correction), or from `received_at` when that is earlier: collection never keeps a
  time later than the one it was received at, and counting from the earlier of the
  two means no row stored with a time in the future (before collection clamped it)
  escapes the sweep. An event whose categories have all expired is deleted. One where only
  some have is opened with its customer's key, its expired fields are dropped, the
  rest is sealed again and its `categories` column rewritten: the fields that are
  still within retention keep serving the purposes that may use them. A field is
  judged by its category under the current tracking plan; a field the plan no longer
  places has no retention and goes with the expired ones (fail closed).
- traits, from `updated_at` (the last time the customer stated them), by the category
  stored with each.

What is not swept, on purpose:
- consent records: they are the proof of what each customer allowed and when; without
  them, data lawfully collected could no longer be shown to have been;
- ledger entries: they are the proof of every use of the data, this sweep's deletions
  included; they hold no personal values and name a customer only by a pseudonym
  that dies with their key;
- identifiers and received message ids: they are how a customer is recognised and
  how a retried batch is stored once; they go when the customer is erased.

How a sweep runs: customers are taken in id order, a chunk at a time. `find_expired`
reads which rows of a chunk's customers are past retention (ids, times and
categories, never payloads), through the per-customer indexes every per-customer
table has, so no index on time is needed; it can run in a read-only unit of work.
`remove_expired` re-reads those rows (locked, on PostgreSQL), judges them again (a
row stated anew, or joined into another history since, is left alone), deletes or
trims them and appends one ledger entry per customer affected, in the caller's unit
of work, which the caller commits. A customer's whole history is in one chunk, so
each affected customer gets exactly one entry per sweep. `sweep` does both in one
unit of work; `retention.runner.sweep_all` walks every chunk, one commit each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, tuple_, update

from trustable.core.errors import InvalidInput
from trustable.events.service import SealedEvent, seal_event
from trustable.events.tables import events, traits
from trustable.identity.service import customers_after
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import KeyMissing, Vault

ACTOR = "retention"
LEDGER_KIND = "retention"
CUSTOMERS_PER_CHUNK = 500
ROWS_PER_BATCH = 500
_SCAN_ROWS = 5_000  # rows the driver hands over at a time while a chunk is read
# The cutoff of a category no purpose uses: later than any moment, so it always goes.
_ALWAYS = datetime.max.replace(tzinfo=UTC)

_RESEAL = (
    update(events)
    .where(events.c.customer_id == bindparam("owner"), events.c.id == bindparam("row_id"))
    .values(payload=bindparam("sealed"), categories=bindparam("kept"))
)


def retention_days(policy: Policy, category: str) -> int | None:
    """How many days `category` may be kept: the longest retention among the purposes
    that use it, so no purpose loses data it may still use; None when none uses it."""
    days = [policy.purposes[key].spec.retention_days for key in policy.purposes_using(category)]
    return max(days) if days else None


class Retention:
    """The policy's retention as cutoffs at one moment: data of a category from before
    its cutoff has expired. One per sweep, so every chunk is judged at the same `now`
    (and a dry run and the run after it, given the same `now`, judge alike)."""

    def __init__(self, policy: Policy, now: datetime) -> None:
        self.policy = policy
        self.now = now
        self._cutoffs: dict[str, datetime] = {}
        self._latest: dict[str, datetime] = {}

    def days(self, category: str) -> int | None:
        return retention_days(self.policy, category)

    def cutoff(self, category: str) -> datetime:
        found = self._cutoffs.get(category)
        if found is None:
            days = self.days(category)
            found = _ALWAYS if days is None else self.now - timedelta(days=days)
            self._cutoffs[category] = found
        return found

    def expired(self, category: str, moment: datetime) -> bool:
        return moment < self.cutoff(category)

    def any_expired(self, categories: str, moment: datetime) -> bool:
        """Has any category of an events row (space-separated, as stored) expired?
        One dictionary look-up once warm: many rows share a handful of category sets."""
        latest = self._latest.get(categories)
        if latest is None:
            latest = max((self.cutoff(c) for c in categories.split()), default=_ALWAYS)
            self._latest[categories] = latest
        return moment < latest


@dataclass(frozen=True)
class Expired:
    """What the read of one chunk found past retention: row ids and trait names by
    customer, never values. `next_after` is where the next chunk starts (None: the
    sweep has reached the last customer)."""

    customers_scanned: int
    next_after: str | None
    events: dict[str, list[int]] = field(default_factory=dict)
    traits: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.events and not self.traits


@dataclass
class CategoryCounts:
    """What went of one category. An event trimmed of two categories counts under
    both; the report's totals count it once."""

    retention_days: int | None
    events_deleted: int = 0
    events_trimmed: int = 0
    traits_deleted: int = 0


@dataclass
class SweepReport:
    """What a sweep (or one chunk of it) removed, or with `dry_run` would remove:
    counts by category and in total, never values."""

    dry_run: bool = False
    categories: dict[str, CategoryCounts] = field(default_factory=dict)
    events_deleted: int = 0
    events_trimmed: int = 0
    traits_deleted: int = 0
    customers_scanned: int = 0
    customers_affected: int = 0
    # Customers with expired data but no data key (erased, or being erased): without
    # the key nothing of theirs can be opened or named in the ledger; erasure removes it.
    customers_skipped: int = 0
    ledger_entries: int = 0
    next_after: str | None = None
    # Another process held the sweep (`retention.runner`): this one did nothing, or
    # stopped when its lease passed on.
    elsewhere: bool = False

    @classmethod
    def of(cls, found: Expired, *, dry_run: bool) -> SweepReport:
        """The report of a chunk before anything is removed."""
        return cls(
            dry_run=dry_run,
            customers_scanned=found.customers_scanned,
            next_after=found.next_after,
        )

    @property
    def anything(self) -> bool:
        return bool(self.events_deleted or self.events_trimmed or self.traits_deleted)

    def category(self, key: str, rules: Retention) -> CategoryCounts:
        found = self.categories.get(key)
        if found is None:
            found = self.categories[key] = CategoryCounts(rules.days(key))
        return found

    def absorb(self, other: SweepReport) -> None:
        """Add a later chunk's report to this one (the sweep's running total)."""
        for key, counts in other.categories.items():
            mine = self.categories.setdefault(key, CategoryCounts(counts.retention_days))
            mine.events_deleted += counts.events_deleted
            mine.events_trimmed += counts.events_trimmed
            mine.traits_deleted += counts.traits_deleted
        self.events_deleted += other.events_deleted
        self.events_trimmed += other.events_trimmed
        self.traits_deleted += other.traits_deleted
        self.customers_scanned += other.customers_scanned
        self.customers_affected += other.customers_affected
        self.customers_skipped += other.customers_skipped
        self.ledger_entries += other.ledger_entries
        self.next_after = other.next_after


@dataclass
class _Tally:
    """One customer's share of a chunk: what their ledger entry says."""

    events_deleted: int = 0
    events_trimmed: int = 0
    traits_deleted: int = 0
    categories: set[str] = field(default_factory=set)


def sweep(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    now: datetime,
    dry_run: bool = False,
    after: str = "",
    limit: int = CUSTOMERS_PER_CHUNK,
) -> SweepReport:
    """Sweep one chunk: up to `limit` customers after customer id `after`, in the
    caller's unit of work (which the caller commits, or with `dry_run` need not).

    Call again with `after=report.next_after` until it is None; give every call the
    same `now`. Events are measured from the earlier of `occurred_at` and
    `received_at`, traits from `updated_at`.
    """
    rules = Retention(policy, now)
    found = find_expired(uow, rules, after=after, limit=limit)
    return remove_expired(uow, vault, rules, found, dry_run=dry_run)


def find_expired(
    uow: UnitOfWork, rules: Retention, *, after: str = "", limit: int = CUSTOMERS_PER_CHUNK
) -> Expired:
    """Which rows of the next `limit` customers after `after` are past retention.

    Reads only ids, times and categories (through the customers' primary key, the
    events' (customer_id, occurred_at) index and the traits' primary key), streamed,
    so a customer with a long history costs memory for their expired ids only.
    """
    if limit < 1:
        raise InvalidInput("a retention chunk holds at least one customer")
    conn = uow.connection
    chunk = customers_after(uow, after, limit)
    next_after = chunk[-1] if len(chunk) == limit else None
    if not chunk:
        return Expired(0, None)
    found_events: defaultdict[str, list[int]] = defaultdict(list)
    rows = conn.execute(
        select(
            events.c.id,
            events.c.customer_id,
            events.c.occurred_at,
            events.c.received_at,
            events.c.categories,
        )
        .where(events.c.customer_id.in_(chunk))
        .execution_options(yield_per=_SCAN_ROWS)
    )
    for row_id, customer_id, occurred_at, received_at, categories in rows:
        if rules.any_expired(categories, min(occurred_at, received_at)):
            found_events[customer_id].append(row_id)
    found_traits: defaultdict[str, list[str]] = defaultdict(list)
    for customer_id, name, category, updated_at in conn.execute(
        select(traits.c.customer_id, traits.c.name, traits.c.category, traits.c.updated_at).where(
            traits.c.customer_id.in_(chunk)
        )
    ):
        if rules.expired(category, updated_at):
            found_traits[customer_id].append(name)
    return Expired(len(chunk), next_after, dict(found_events), dict(found_traits))


def remove_expired(
    uow: UnitOfWork, vault: Vault, rules: Retention, found: Expired, *, dry_run: bool = False
) -> SweepReport:
    """Delete or trim what `find_expired` found, in the caller's unit of work, with one
    ledger entry per customer affected (appended last). With `dry_run` nothing is
    written and nothing locked: the report says what a real run would remove, having
    opened the events it would trim to tell a trim from a deletion."""
    report = SweepReport.of(found, dry_run=dry_run)
    owners = sorted(set(found.events) | set(found.traits))
    if not owners:
        return report
    usable = _with_keys(vault, owners)
    report.customers_skipped = len(owners) - len(usable)
    tallies: defaultdict[str, _Tally] = defaultdict(_Tally)
    _remove_events(
        uow,
        vault,
        rules,
        {c: found.events[c] for c in usable if c in found.events},
        report,
        tallies,
        dry_run=dry_run,
    )
    _remove_traits(
        uow,
        rules,
        {c: found.traits[c] for c in usable if c in found.traits},
        report,
        tallies,
        dry_run=dry_run,
    )
    report.customers_affected = len(tallies)
    records = [
        ledger.Record(
            kind=LEDGER_KIND,
            customer_id=customer_id,
            actor=ACTOR,
            detail={
                "categories": sorted(tally.categories),
                "events_deleted": tally.events_deleted,
                "events_trimmed": tally.events_trimmed,
                "traits_deleted": tally.traits_deleted,
            },
        )
        for customer_id, tally in sorted(tallies.items())
    ]
    if not dry_run:
        ledger.submit(uow, vault, records, now=rules.now)
        report.ledger_entries = len(records)
    return report


def _with_keys(vault: Vault, owners: list[str]) -> list[str]:
    """The customers whose data key exists (loaded in one key-store read)."""
    vault.load_keys(owners)
    usable = []
    for customer_id in owners:
        try:
            vault.pseudonym(customer_id)
        except KeyMissing:
            continue
        usable.append(customer_id)
    return usable


def _remove_events(
    uow: UnitOfWork,
    vault: Vault,
    rules: Retention,
    wanted: dict[str, list[int]],
    report: SweepReport,
    tallies: defaultdict[str, _Tally],
    *,
    dry_run: bool,
) -> None:
    conn = uow.connection
    owner_of = {row_id: customer_id for customer_id, ids in wanted.items() for row_id in ids}
    ordered = sorted(owner_of)  # rows locked in id order: two sweeps cannot deadlock
    openers: dict[str, Callable[[str, bytes], bytes]] = {}
    for start in range(0, len(ordered), ROWS_PER_BATCH):
        batch = ordered[start : start + ROWS_PER_BATCH]
        # Each row's customer beside its id: a partitioned store reads their partitions.
        owners = sorted({owner_of[row_id] for row_id in batch})
        stmt = (
            select(
                events.c.id,
                events.c.customer_id,
                events.c.message_id,
                events.c.type,
                events.c.occurred_at,
                events.c.received_at,
                events.c.categories,
                events.c.payload,
            )
            .where(events.c.customer_id.in_(owners), events.c.id.in_(batch))
            .order_by(events.c.id)
        )
        if not dry_run and uow.distributed:
            # Citus locks rows only in statements that name one shard: each owner's
            # rows in turn, owners in id order (two sweeps cannot deadlock).
            for owner in owners:
                conn.execute(
                    select(events.c.id)
                    .where(events.c.customer_id == owner, events.c.id.in_(batch))
                    .order_by(events.c.id)
                    .with_for_update()
                ).all()
        elif not dry_run:
            stmt = stmt.with_for_update()
        gone: list[int] = []
        resealed: list[dict[str, Any]] = []
        for row in conn.execute(stmt).all():
            customer_id = owner_of[row.id]
            if row.customer_id != customer_id:
                continue  # joined into another history since: swept with it next time
            since = min(row.occurred_at, row.received_at)
            stored = set(row.categories.split())
            expired = {c for c in stored if rules.expired(c, since)}
            if stored and not expired:
                continue
            kept: dict[str, Any] = {}
            kept_categories: set[str] = set()
            if expired != stored:
                opener = openers.get(customer_id)
                if opener is None:
                    opener = openers[customer_id] = vault.opener(customer_id)
                sealed = SealedEvent(
                    row.message_id,
                    row.type,
                    row.occurred_at,
                    tuple(sorted(stored)),
                    bytes(row.payload),
                )
                kept, kept_categories = _unexpired(rules, sealed.open_with(opener), since)
            tally = tallies[customer_id]
            if not kept:
                gone.append(row.id)
                tally.events_deleted += 1
                report.events_deleted += 1
                for category in stored:
                    report.category(category, rules).events_deleted += 1
                tally.categories.update(stored)
                continue
            removed = stored - kept_categories
            resealed.append(
                {
                    "owner": customer_id,
                    "row_id": row.id,
                    "sealed": seal_event(vault, customer_id, row.message_id, kept),
                    "kept": " ".join(sorted(kept_categories)),
                }
            )
            tally.events_trimmed += 1
            report.events_trimmed += 1
            for category in removed:
                report.category(category, rules).events_trimmed += 1
            tally.categories.update(removed)
        if dry_run:
            continue
        if gone:
            conn.execute(
                delete(events).where(
                    events.c.customer_id.in_(sorted({owner_of[row_id] for row_id in gone})),
                    events.c.id.in_(gone),
                )
            )
        if resealed:
            conn.execute(_RESEAL, resealed)


def _unexpired(
    rules: Retention, fields: dict[str, Any], since: datetime
) -> tuple[dict[str, Any], set[str]]:
    """The fields of an event still within retention (counted from `since`), and
    their categories."""
    kept: dict[str, Any] = {}
    categories: set[str] = set()
    for path, value in fields.items():
        category = rules.policy.field_category(path, value)
        if category is None or rules.expired(category, since):
            continue
        kept[path] = value
        categories.add(category)
    return kept, categories


def _remove_traits(
    uow: UnitOfWork,
    rules: Retention,
    wanted: dict[str, list[str]],
    report: SweepReport,
    tallies: defaultdict[str, _Tally],
    *,
    dry_run: bool,
) -> None:
    conn = uow.connection
    pairs = sorted((customer_id, name) for customer_id, names in wanted.items() for name in names)
    key = tuple_(traits.c.customer_id, traits.c.name)
    for start in range(0, len(pairs), ROWS_PER_BATCH):
        chunk = pairs[start : start + ROWS_PER_BATCH]
        stmt = (
            select(traits.c.customer_id, traits.c.name, traits.c.category, traits.c.updated_at)
            .where(key.in_(chunk))
            .order_by(traits.c.customer_id, traits.c.name)
        )
        if not dry_run and uow.distributed:  # one customer's rows at a time, as above
            for owner in sorted({c for c, _ in chunk}):
                conn.execute(
                    select(traits.c.name)
                    .where(
                        traits.c.customer_id == owner,
                        traits.c.name.in_([n for c, n in chunk if c == owner]),
                    )
                    .order_by(traits.c.name)
                    .with_for_update()
                ).all()
        elif not dry_run:
            stmt = stmt.with_for_update()
        gone: list[tuple[str, str]] = []
        for customer_id, name, category, updated_at in conn.execute(stmt).all():
            if not rules.expired(category, updated_at):
                continue  # stated again since the chunk was read
            gone.append((customer_id, name))
            tally = tallies[customer_id]
            tally.traits_deleted += 1
            tally.categories.add(category)
            report.traits_deleted += 1
            report.category(category, rules).traits_deleted += 1
        if gone and not dry_run:
            conn.execute(delete(traits).where(key.in_(gone)))
