"""Segments as events arrive: hits, membership, withdrawal, refresh, erasure and merges.

Collection calls `observe` with the events it has just stored (their kept fields, in
the clear, before sealing is undone by nobody) and the consent decisions it already
loaded, in its own unit of work: an event that meets an event rule adds one
`segment_hits` row, and the customers whose hits changed are counted again over the
rule's window, one grouped query per segment and batch. A trait rule is judged on the
trait just stated. An event counts only when the customer permits, at that moment,
every purpose the segment declares: a segment never learns from data given for
another purpose. Membership changes leave `segment` ledger entries in the same unit
of work as the event that caused them.

`refresh` (run after each retention sweep, and by `trustable segments refresh`)
ages out hits older than each window, judges every member again under today's
consent, and drops what a withdrawn consent no longer allows, hits included. A
withdrawal or objection recorded through `consent.service.record_consent` drops the
customer from that purpose's segments at once (`leave_for_purposes`). Reads are in
`segments.reads`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import delete, func, select

from trustable.consent.service import Decisions, decisions_for
from trustable.events.tables import traits
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.segments.rules import EventRule, SegmentSpec, TraitRule
from trustable.segments.tables import segment_hits, segment_members
from trustable.storage import locks
from trustable.storage.bulk import delete_customer_rows
from trustable.storage.moves import reassign
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_for, insert_ignoring_conflicts
from trustable.vault.service import Vault

LEDGER_KIND = "segment"
REFRESH_ACTOR = "segments"
CHUNK = 500


@dataclass(frozen=True)
class Segment:
    name: str
    spec: SegmentSpec
    purposes: frozenset[str]

    @property
    def rule(self) -> EventRule | TraitRule:
        return self.spec.rule

    def allowed(self, permitted: frozenset[str]) -> bool:
        """Does the customer permit every purpose this segment declares?"""
        return self.purposes <= permitted


@dataclass(frozen=True)
class Compiled:
    """A policy's segments arranged for the collection path: by event name, by trait."""

    segments: dict[str, Segment]
    by_event: dict[str, list[Segment]]
    by_trait: dict[str, list[Segment]]


_compiled: dict[int, tuple[Policy, Compiled]] = {}


def compiled(policy: Policy) -> Compiled:
    """The policy's segments, arranged once per loaded policy."""
    found = _compiled.get(id(policy))
    if found is not None and found[0] is policy:
        return found[1]
    segments = {
        name: Segment(name, spec, frozenset(spec.purposes))
        for name, spec in policy.spec.segments.items()
    }
    by_event: dict[str, list[Segment]] = defaultdict(list)
    by_trait: dict[str, list[Segment]] = defaultdict(list)
    for segment in segments.values():
        rule = segment.rule
        if isinstance(rule, EventRule):
            by_event[rule.event].append(segment)
        else:
            by_trait[rule.trait].append(segment)
    result = Compiled(segments, dict(by_event), dict(by_trait))
    if len(_compiled) > 64:
        _compiled.clear()
    _compiled[id(policy)] = (policy, result)
    return result


def window_start(rule: EventRule, now: datetime) -> datetime:
    return now - timedelta(days=rule.within_days)


class Stored(NamedTuple):
    """One event collection has just stored: whose, which, when, its kept fields.
    (A named tuple: collection makes one per stored event.)"""

    customer_id: str
    message_id: str
    type: str
    occurred_at: datetime
    fields: dict[str, Any]


def observe(
    uow: UnitOfWork,
    policy: Policy,
    decisions: Decisions,
    stored: Sequence[Stored],
    *,
    now: datetime,
    actor: str,
) -> list[ledger.Record]:
    """Count the stored events into segments; the ledger records of who joined or
    left (the caller appends them with the rest of the batch's entries)."""
    rules = compiled(policy)
    if not rules.segments or not stored:
        return []
    hits: list[dict[str, Any]] = []
    counted: dict[str, set[str]] = defaultdict(set)  # segment -> customers to count again
    judged: dict[str, dict[str, bool]] = defaultdict(dict)  # trait segment -> verdicts
    starts = {
        s.name: window_start(s.rule, now)
        for s in rules.segments.values()
        if isinstance(s.rule, EventRule)
    }
    for event in stored:
        fields = event.fields
        if event.type == "track":
            for segment in rules.by_event.get(fields.get("event"), ()):  # type: ignore[arg-type]
                rule = segment.rule
                assert isinstance(rule, EventRule)
                if (
                    event.occurred_at >= starts[segment.name]
                    and segment.allowed(decisions.permitted(event.customer_id))
                    and rule.matches(fields)
                ):
                    hits.append(
                        {
                            "customer_id": event.customer_id,
                            "segment": segment.name,
                            "message_id": event.message_id,
                            "occurred_at": event.occurred_at,
                        }
                    )
                    counted[segment.name].add(event.customer_id)
        elif event.type == "identify" and rules.by_trait:
            for path, segments in rules.by_trait.items():
                if path not in fields:
                    continue
                for segment in segments:
                    assert isinstance(segment.rule, TraitRule)
                    judged[segment.name][event.customer_id] = segment.allowed(
                        decisions.permitted(event.customer_id)
                    ) and segment.rule.holds(fields[path])
    insert_ignoring_conflicts(uow, segment_hits, hits)
    # Two batches for one customer at once would each count the other's hits out
    # (neither committed yet) and both miss the threshold they reach together: the
    # customers judged here are locked by name until commit, so the second one
    # counts after the first committed.
    judging: set[str] = set()
    for group in (*counted.values(), *judged.values()):
        judging.update(group)
    locks.hold(uow, locks.SEGMENT_COUNTS, judging)
    records: list[ledger.Record] = []
    for name, customers in sorted(counted.items()):
        segment = rules.segments[name]
        assert isinstance(segment.rule, EventRule)
        counts = _hit_counts(uow, name, starts[name], customers)
        wanted = {c: counts.get(c, 0) >= segment.rule.at_least for c in customers}
        records.extend(settle(uow, segment, wanted, now=now, actor=actor))
    for name, wanted in sorted(judged.items()):
        records.extend(settle(uow, rules.segments[name], wanted, now=now, actor=actor))
    return records


def _hit_counts(
    uow: UnitOfWork, segment: str, start: datetime, customers: Iterable[str]
) -> dict[str, int]:
    wanted = sorted(customers)
    counts: dict[str, int] = {}
    for first in range(0, len(wanted), CHUNK):
        rows = uow.connection.execute(
            select(segment_hits.c.customer_id, func.count())
            .where(
                segment_hits.c.segment == segment,
                segment_hits.c.customer_id.in_(wanted[first : first + CHUNK]),
                segment_hits.c.occurred_at >= start,
            )
            .group_by(segment_hits.c.customer_id)
        )
        counts.update((c, int(n)) for c, n in rows)
    return counts


def _members_among(uow: UnitOfWork, segment: str, customers: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for first in range(0, len(customers), CHUNK):
        found.update(
            uow.connection.execute(
                select(segment_members.c.customer_id).where(
                    segment_members.c.segment == segment,
                    segment_members.c.customer_id.in_(customers[first : first + CHUNK]),
                )
            ).scalars()
        )
    return found


def settle(
    uow: UnitOfWork,
    segment: Segment,
    wanted: dict[str, bool],
    *,
    now: datetime,
    actor: str,
    because: str | None = None,
) -> list[ledger.Record]:
    """Make membership what `wanted` says (customer -> in?); a record per change."""
    customers = sorted(wanted)
    members = _members_among(uow, segment.name, customers)
    joining = [c for c in customers if wanted[c] and c not in members]
    leaving = [c for c in customers if not wanted[c] and c in members]
    # What the statements changed, not what was read before them: work running at
    # the same time may have made the same change, and only one records it.
    joined = _join(uow, segment.name, joining, now)
    left: list[str] = []
    for first in range(0, len(leaving), CHUNK):
        left.extend(
            uow.connection.execute(
                delete(segment_members)
                .where(
                    segment_members.c.segment == segment.name,
                    segment_members.c.customer_id.in_(leaving[first : first + CHUNK]),
                )
                .returning(segment_members.c.customer_id)
            ).scalars()
        )
    return [
        _record(segment.name, sorted(segment.purposes), c, "joined", "rule_met", actor)
        for c in sorted(joined)
    ] + [
        _record(segment.name, sorted(segment.purposes), c, "left", because or "rule_unmet", actor)
        for c in sorted(left)
    ]


def _join(uow: UnitOfWork, segment: str, customers: Sequence[str], now: datetime) -> list[str]:
    """Add these customers to the segment; those that were not in it already."""
    if not customers:
        return []
    stmt = (
        insert_for(uow, segment_members)
        .on_conflict_do_nothing()
        .returning(segment_members.c.customer_id)
    )
    rows = [{"customer_id": c, "segment": segment, "since": now} for c in customers]
    return list(uow.connection.execute(stmt, rows).scalars())


def _record(
    segment: str, purposes: list[str], customer_id: str, change: str, because: str, actor: str
) -> ledger.Record:
    return ledger.Record(
        kind=LEDGER_KIND,
        customer_id=customer_id,
        actor=actor,
        detail={"segment": segment, "purposes": purposes, "change": change, "because": because},
    )


def leave_for_purposes(
    uow: UnitOfWork, policy: Policy, customer_id: str, purposes: Sequence[str], *, actor: str
) -> list[ledger.Record]:
    """Purposes are no longer permitted: leave every segment that declares one, and
    forget the hits gathered for them (they were gathered under that permission)."""
    declaring = [
        s for s in compiled(policy).segments.values() if any(p in s.purposes for p in purposes)
    ]
    return _leave(uow, customer_id, declaring, actor=actor)


def leave_all(
    uow: UnitOfWork, policy: Policy, customer_id: str, *, actor: str
) -> list[ledger.Record]:
    """All use is restricted (Art. 18): leave every segment, forget every hit."""
    return _leave(uow, customer_id, list(compiled(policy).segments.values()), actor=actor)


def _leave(
    uow: UnitOfWork, customer_id: str, segments: Sequence[Segment], *, actor: str
) -> list[ledger.Record]:
    records: list[ledger.Record] = []
    for segment in segments:
        uow.connection.execute(
            delete(segment_hits).where(
                segment_hits.c.customer_id == customer_id,
                segment_hits.c.segment == segment.name,
            )
        )
        left = uow.connection.execute(
            delete(segment_members).where(
                segment_members.c.customer_id == customer_id,
                segment_members.c.segment == segment.name,
            )
        ).rowcount
        if left:
            records.append(
                _record(
                    segment.name, sorted(segment.purposes), customer_id, "left", "consent", actor
                )
            )
    return records


def judge_traits(
    uow: UnitOfWork, vault: Vault, policy: Policy, customer_id: str, *, now: datetime, actor: str
) -> list[ledger.Record]:
    """Judge the trait rules again for one customer whose traits changed outside
    collection (a correction): from the stored traits, under today's consent."""
    segments = [s for s in compiled(policy).segments.values() if isinstance(s.rule, TraitRule)]
    if not segments:
        return []
    permitted = decisions_for(uow, policy, [customer_id]).permitted(customer_id)
    held = dict(
        uow.connection.execute(
            select(traits.c.name, traits.c.value).where(traits.c.customer_id == customer_id)
        ).all()
    )
    records: list[ledger.Record] = []
    for segment in segments:
        rule = segment.rule
        assert isinstance(rule, TraitRule)
        name = rule.trait[7:]
        sealed = held.get(name)
        holds = (
            sealed is not None
            and segment.allowed(permitted)
            and rule.holds(orjson.loads(vault.decrypt(customer_id, "trait:" + name, sealed)))
        )
        records.extend(settle(uow, segment, {customer_id: holds}, now=now, actor=actor))
    return records


# -- refresh ----------------------------------------------------------------------


@dataclass
class RefreshReport:
    hits_aged_out: int = 0
    hits_dropped: int = 0  # consent no longer holds, or the segment is gone
    joined: int = 0
    left: int = 0
    by_segment: dict[str, int] = field(default_factory=dict)  # members after
    elsewhere: bool = False  # another process was refreshing: this one did nothing


def refresh(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    now: datetime,
    actor: str = REFRESH_ACTOR,
) -> RefreshReport:
    """Age out, re-judge under today's consent, and drop segments the policy no longer
    declares; ledger entries for every change, in the caller's unit of work."""
    rules = compiled(policy)
    report = RefreshReport()
    records: list[ledger.Record] = []
    conn = uow.connection
    names = list(rules.segments)
    for customer_id, name in conn.execute(
        select(segment_members.c.customer_id, segment_members.c.segment).where(
            segment_members.c.segment.not_in(names)
        )
    ).all():
        records.append(_record(name, [], customer_id, "left", "segment_removed", actor))
    report.left += len(records)
    conn.execute(delete(segment_members).where(segment_members.c.segment.not_in(names)))
    report.hits_dropped += int(
        conn.execute(delete(segment_hits).where(segment_hits.c.segment.not_in(names))).rowcount
    )
    for segment in rules.segments.values():
        rule = segment.rule
        members = set(
            conn.execute(
                select(segment_members.c.customer_id).where(
                    segment_members.c.segment == segment.name
                )
            ).scalars()
        )
        wanted: dict[str, bool] = {}
        if isinstance(rule, EventRule):
            start = window_start(rule, now)
            report.hits_aged_out += int(
                conn.execute(
                    delete(segment_hits).where(
                        segment_hits.c.segment == segment.name,
                        segment_hits.c.occurred_at < start,
                    )
                ).rowcount
            )
            counts: dict[str, int] = dict(
                conn.execute(
                    select(segment_hits.c.customer_id, func.count())
                    .where(segment_hits.c.segment == segment.name)
                    .group_by(segment_hits.c.customer_id)
                ).all()
            )
            candidates = sorted(members | set(counts))
            refused = _not_allowed(uow, policy, segment, candidates)
            for first in range(0, len(refused), CHUNK):
                report.hits_dropped += int(
                    conn.execute(
                        delete(segment_hits).where(
                            segment_hits.c.segment == segment.name,
                            segment_hits.c.customer_id.in_(refused[first : first + CHUNK]),
                        )
                    ).rowcount
                )
            blocked = set(refused)
            wanted = {c: c not in blocked and counts.get(c, 0) >= rule.at_least for c in candidates}
        else:
            name = rule.trait[7:]
            held = dict(
                conn.execute(
                    select(traits.c.customer_id, traits.c.value).where(traits.c.name == name)
                ).all()
            )
            candidates = sorted(members | set(held))
            blocked = set(_not_allowed(uow, policy, segment, candidates))
            for customer_id in candidates:
                sealed = held.get(customer_id)
                if customer_id in blocked or sealed is None:
                    wanted[customer_id] = False
                    continue
                value = orjson.loads(vault.decrypt(customer_id, "trait:" + name, sealed))
                wanted[customer_id] = rule.holds(value)
        changes = settle(uow, segment, wanted, now=now, actor=actor)
        for change in changes:
            if change.detail["change"] == "left" and change.customer_id in blocked:
                change.detail["because"] = "consent"
        report.joined += sum(1 for c in changes if c.detail["change"] == "joined")
        report.left += sum(1 for c in changes if c.detail["change"] == "left")
        report.by_segment[segment.name] = sum(1 for v in wanted.values() if v)
        records.extend(changes)
    if records:
        ledger.submit(uow, vault, records, now=now)
    return report


def _not_allowed(
    uow: UnitOfWork, policy: Policy, segment: Segment, customers: Sequence[str]
) -> list[str]:
    """Those of `customers` who do not permit every purpose of the segment now."""
    out: list[str] = []
    for first in range(0, len(customers), CHUNK):
        chunk = customers[first : first + CHUNK]
        decisions = decisions_for(uow, policy, chunk)
        out.extend(c for c in chunk if not segment.allowed(decisions.permitted(c)))
    return out


# -- erase and merge --------------------------------------------------------------


def erase_segments(uow: UnitOfWork, customer_id: str) -> dict[str, int]:
    """Delete a customer's segment hits and memberships (erasure)."""
    return delete_customer_rows(
        uow, customer_id, {"segment_hits": segment_hits, "segment_members": segment_members}
    )


def merge_segments(uow: UnitOfWork, winner: str, loser: str) -> None:
    """Move the absorbed customer's hits and memberships to the survivor; the next
    event or refresh judges the joined history again (consent merged may be narrower,
    and reads check consent anyway)."""
    conn = uow.connection
    for table in (segment_hits, segment_members):
        rows = [
            {**row._mapping, "customer_id": winner}
            for row in conn.execute(select(table).where(table.c.customer_id == loser))
        ]
        insert_ignoring_conflicts(uow, table, rows)
        conn.execute(delete(table).where(table.c.customer_id == loser))


def split_segments(uow: UnitOfWork, *, holder: str, to: str, message_ids: Sequence[str]) -> None:
    """Undoing a merge: the hits of the events that went back go with them. Both
    customers' memberships are judged again at their next event or refresh; until
    then `to` is in none (reads check consent anyway)."""
    ids = list(message_ids)
    for start in range(0, len(ids), 500):
        reassign(
            uow,
            segment_hits,
            (segment_hits.c.customer_id == holder)
            & segment_hits.c.message_id.in_(ids[start : start + 500]),
            {"customer_id": to},
        )
