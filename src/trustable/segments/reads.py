"""Reading segments: a customer's, for a purpose or for themselves; the list, counted.

What a customer is told (their portal, their export) shows every segment they are in,
with the events that counted; what the company reads names a purpose, returns only
segments declaring it, and only while the customer permits every purpose of each.
The list of segments counts members and never names them; small counts are hidden.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from trustable.consent.service import decisions_for
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.segments.rules import EventRule
from trustable.segments.service import Segment, compiled
from trustable.segments.tables import segment_hits, segment_members
from trustable.storage.uow import UnitOfWork

SMALLEST_COUNT_SHOWN = 10  # fewer members than this are shown as "<10"


@dataclass(frozen=True)
class Membership:
    segment: str
    description: str
    purposes: tuple[str, ...]
    since: datetime


RETIRED = "A group our policy no longer declares; it goes at the next refresh."


def memberships(
    uow: UnitOfWork, policy: Policy, customer_id: str, *, retired: bool = False
) -> list[Membership]:
    """Every segment the customer is in that the policy still declares, by name; with
    `retired`, also those it no longer declares (held until the next refresh: the
    customer's export shows everything held)."""
    segments = compiled(policy).segments
    rows = uow.connection.execute(
        select(segment_members.c.segment, segment_members.c.since)
        .where(segment_members.c.customer_id == customer_id)
        .order_by(segment_members.c.segment)
    ).all()
    out: list[Membership] = []
    for name, since in rows:
        found = segments.get(name)
        if found is not None:
            out.append(Membership(name, found.spec.description, tuple(found.spec.purposes), since))
        elif retired:
            out.append(Membership(name, RETIRED, (), since))
    return out


@dataclass(frozen=True)
class Group:
    """A segment as its member is told of it: the policy's words, purposes by name."""

    name: str
    description: str
    purposes: list[str]  # the purposes' plain names, as the customer's switches show them
    since: datetime


def groups(uow: UnitOfWork, policy: Policy, customer_id: str) -> list[Group]:
    return [
        Group(
            m.segment,
            m.description,
            [policy.purposes[p].spec.name for p in m.purposes if p in policy.purposes],
            m.since,
        )
        for m in memberships(uow, policy, customer_id)
    ]


def evidence(uow: UnitOfWork, customer_id: str) -> dict[str, list[tuple[str, datetime]]]:
    """The events counted into each segment for this customer: (message id, when)."""
    found: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for name, message_id, at in uow.connection.execute(
        select(segment_hits.c.segment, segment_hits.c.message_id, segment_hits.c.occurred_at)
        .where(segment_hits.c.customer_id == customer_id)
        .order_by(segment_hits.c.segment, segment_hits.c.occurred_at)
    ):
        found[name].append((message_id, at))
    return dict(found)


@dataclass(frozen=True)
class SegmentRead:
    """A purpose-bound read of one customer's segments, and its ledger entry."""

    customer_id: str
    purpose: str
    segments: list[Membership]
    categories: tuple[str, ...]  # what the returned segments' rules read

    def ledger_record(self, actor: str) -> ledger.Record:
        """An `access` entry like a profile read's, counting segments, not events."""
        return ledger.Record(
            kind="access",
            customer_id=self.customer_id,
            actor=actor,
            detail={
                "purpose": self.purpose,
                "categories": list(self.categories),
                "segments": len(self.segments),
            },
        )


def read_for_purpose(
    uow: UnitOfWork, policy: Policy, customer_id: str, purpose: str
) -> SegmentRead:
    """The customer's segments that declare `purpose`, only while they permit every
    purpose of each (fail closed: a decision that cannot be made returns nothing)."""
    permitted = decisions_for(uow, policy, [customer_id]).permitted(customer_id)
    segments = compiled(policy).segments
    if purpose not in permitted:
        return SegmentRead(customer_id, purpose, [], ())
    found = [
        m
        for m in memberships(uow, policy, customer_id)
        if purpose in m.purposes and segments[m.segment].allowed(permitted)
    ]
    categories = {c for m in found for c in rule_categories(policy, segments[m.segment])}
    return SegmentRead(customer_id, purpose, found, tuple(sorted(categories)))


def rule_categories(policy: Policy, segment: Segment) -> list[str]:
    """The categories a segment's rule reads: its event's name and `where` fields, or
    its trait (the policy check made sure each is declared)."""
    rule = segment.rule
    if isinstance(rule, EventRule):
        paths = [policy.name_category(rule.event)] + [policy.category_of(p) for p in rule.where]
    else:
        paths = [policy.category_of(rule.trait)]
    return [c for c in paths if c is not None]


@dataclass(frozen=True)
class SegmentSummary:
    name: str
    description: str
    purposes: tuple[str, ...]
    rule: dict[str, Any]
    members: str  # a count, or "<10": a small group is not shown exactly


def shown_count(count: int) -> str:
    return str(count) if count >= SMALLEST_COUNT_SHOWN else f"<{SMALLEST_COUNT_SHOWN}"


def summaries(uow: UnitOfWork, policy: Policy) -> list[SegmentSummary]:
    """Each declared segment with its member count (small counts suppressed)."""
    counts: dict[str, int] = dict(
        uow.connection.execute(
            select(segment_members.c.segment, func.count()).group_by(segment_members.c.segment)
        ).all()
    )
    return [
        SegmentSummary(
            name,
            s.spec.description,
            tuple(s.spec.purposes),
            s.spec.rule.model_dump(exclude_none=True),
            shown_count(int(counts.get(name, 0))),
        )
        for name, s in sorted(compiled(policy).segments.items())
    ]
