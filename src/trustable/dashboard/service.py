"""The trust dashboard's figures, counted by the database.

Each function is one or two aggregate queries (GROUP BY, conditional sums, a window
for medians), the same on SQLite and PostgreSQL: the rows stay in the store and
only the counts come back, however many customers there are. Days are UTC days;
a range is `[start, end)`. Nothing here writes, so a read-only unit of work
(`Trustable.reader()`) is enough.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import ColumnElement, Integer, String, case, extract, func, literal, select

from trustable.consent.tables import consent_records, consent_state
from trustable.core.errors import InvalidInput
from trustable.dashboard.schemas import (
    STATUSES,
    ConsentActivity,
    ConsentRate,
    Dashboard,
    DeliveryHealth,
    DropReason,
    LedgerFigures,
    PurposeActivity,
    RequestFigures,
)
from trustable.destinations.outbox import DEAD, DELIVERED, PENDING, SKIPPED
from trustable.destinations.tables import notices, outbox
from trustable.events.tables import collection_drops
from trustable.identity.tables import customers
from trustable.ledger import service as ledger
from trustable.ledger.sequencing import oldest_pending, pending_count
from trustable.ledger.tables import ledger_heads
from trustable.policy.service import Policy
from trustable.rights.service import FINAL, Channel, Kind, State
from trustable.rights.tables import rights_requests
from trustable.storage.uow import UnitOfWork

MAX_DAYS = 731  # two years of days: beyond that a daily chart says nothing more


def check_range(start: datetime, end: datetime) -> tuple[date, ...]:
    """The UTC days a range covers; refuses naive, empty or overlong ranges."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("a range's ends carry a timezone", code="invalid_range")
    if end <= start:
        raise InvalidInput("a range ends after it starts", code="invalid_range")
    first = utc_day(start)
    last = utc_day(end - timedelta(microseconds=1))
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise InvalidInput(f"a range covers at most {MAX_DAYS} days", code="invalid_range")
    return tuple(first + timedelta(days=n) for n in range(count))


def utc_day(moment: datetime) -> date:
    """The UTC day of a moment, as the queries below bucket it."""
    return moment.astimezone(UTC).date()


def _day(uow: UnitOfWork, column: Any) -> ColumnElement[str]:
    """`YYYY-MM-DD` of a stored moment, in UTC. SQLite holds moments as UTC text
    (`storage.types.UtcDateTime`), so the day is its first ten characters."""
    if uow.dialect == "sqlite":
        return func.substr(column, 1, 10, type_=String())
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD", type_=String())


def _seconds(uow: UnitOfWork, start: Any, end: Any) -> ColumnElement[Any]:
    """Seconds from one stored moment to another."""
    if uow.dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return extract("epoch", end - start)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0, type_=Integer())


# -- consent --------------------------------------------------------------------------------


def consent_activity(uow: UnitOfWork, *, start: datetime, end: datetime) -> ConsentActivity:
    """Decisions recorded per purpose, status and UTC day within `[start, end)`
    (answered from the index on `recorded_at`); days without any are zeros."""
    days = check_range(start, end)
    day = _day(uow, consent_records.c.recorded_at).label("day")
    rows = uow.connection.execute(
        select(consent_records.c.purpose, day, consent_records.c.status, func.count())
        .where(consent_records.c.recorded_at >= start, consent_records.c.recorded_at < end)
        .group_by(consent_records.c.purpose, day, consent_records.c.status)
    ).all()
    position = {d.isoformat(): i for i, d in enumerate(days)}
    found: dict[str, dict[str, list[int]]] = {}
    for purpose, when, status, n in rows:
        if status not in STATUSES or when not in position:
            continue
        series = found.setdefault(purpose, {s: [0] * len(days) for s in STATUSES})
        series[status][position[when]] += int(n)
    return ConsentActivity(
        days=days,
        purposes=tuple(
            PurposeActivity(purpose, *(tuple(found[purpose][s]) for s in STATUSES))
            for purpose in sorted(found)
        ),
    )


def consent_rates(uow: UnitOfWork, policy: Policy) -> tuple[ConsentRate, ...]:
    """Where customers stand now, per purpose: every purpose that needs consent
    (zeros while nobody decided), and any other that someone objected to."""
    rows = uow.connection.execute(
        select(consent_state.c.purpose, consent_state.c.status, func.count()).group_by(
            consent_state.c.purpose, consent_state.c.status
        )
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for purpose, status, n in rows:
        counts.setdefault(purpose, {})[status] = int(n)
    wanted = {key for key, p in policy.purposes.items() if p.needs_consent} | set(counts)
    out = []
    for key in sorted(wanted):
        known = policy.purpose(key)
        got = counts.get(key, {})
        out.append(
            ConsentRate(
                purpose=key,
                needs_consent=known is not None and known.needs_consent,
                **{s: got.get(s, 0) for s in STATUSES},
            )
        )
    return tuple(out)


def customer_count(uow: UnitOfWork) -> int:
    """Customers held now (those joined into another count once, as the survivor)."""
    return int(
        uow.connection.execute(
            select(func.count()).select_from(customers).where(customers.c.merged_into.is_(None))
        ).scalar_one()
    )


# -- requests ---------------------------------------------------------------------------------


def request_figures(
    uow: UnitOfWork, *, start: datetime, end: datetime, now: datetime
) -> tuple[RequestFigures, ...]:
    """Per kind: received, done and refused within the range, open and overdue now,
    and the median time from receipt to done for those done within the range."""
    check_range(start, end)
    r = rights_requests.c
    final = [s.value for s in FINAL]
    is_open = r.state.not_in(final)
    finished_in_range = (r.completed_at >= start) & (r.completed_at < end)
    rows = uow.connection.execute(
        select(
            r.kind,
            _count((r.received_at >= start) & (r.received_at < end)),
            _count((r.state == State.done.value) & finished_in_range),
            _count((r.state == State.refused.value) & finished_in_range),
            _count(is_open),
            _count(is_open & (r.due_at < now)),
        )
        .where(is_open | (r.received_at >= start) | (r.completed_at >= start))
        .where(r.channel != Channel.sign_in.value)
        .group_by(r.kind)
    ).all()
    counts = {kind: tuple(int(n) for n in rest) for kind, *rest in rows}
    medians = _median_seconds(uow, start=start, end=end)
    out = []
    for kind in [k.value for k in Kind] + sorted(set(counts) - {k.value for k in Kind}):
        received, completed, refused, open_now, overdue = counts.get(kind, (0, 0, 0, 0, 0))
        median = medians.get(kind)
        out.append(
            RequestFigures(
                kind=kind,
                received=received,
                completed=completed,
                refused=refused,
                open=open_now,
                overdue=overdue,
                median_time_to_complete=None if median is None else timedelta(seconds=median),
            )
        )
    return tuple(out)


def _median_seconds(uow: UnitOfWork, *, start: datetime, end: datetime) -> dict[str, float]:
    """Median seconds from receipt to done, per kind, for requests done in the range.

    Neither SQLite nor (portably) PostgreSQL has MEDIAN: each kind's durations are
    ranked by a window and the middle one (or the mean of the middle two) is kept.
    """
    r = rights_requests.c
    seconds = _seconds(uow, r.received_at, r.completed_at)
    ranked = (
        select(
            r.kind.label("kind"),
            seconds.label("seconds"),
            func.row_number().over(partition_by=r.kind, order_by=seconds).label("n"),
            func.count().over(partition_by=r.kind).label("total"),
        )
        .where(r.state == State.done.value, r.completed_at >= start, r.completed_at < end)
        .where(r.channel != Channel.sign_in.value)
        .subquery()
    )
    rows = uow.connection.execute(
        select(ranked.c.kind, func.avg(ranked.c.seconds))
        .where(
            ranked.c.n >= (ranked.c.total + literal(1)) // literal(2),
            ranked.c.n <= (ranked.c.total + literal(2)) // literal(2),
        )
        .group_by(ranked.c.kind)
    ).all()
    return {kind: round(float(value), 3) for kind, value in rows if value is not None}


# -- collection, ledger, destinations -----------------------------------------------------------


def drops_by_reason(uow: UnitOfWork) -> tuple[DropReason, ...]:
    """Fields dropped at the door, per reason (the counters `trustable collection
    drops` lists per field), most first. Counters run since collection began."""
    d = collection_drops.c
    total = func.sum(d["count"])
    rows = uow.connection.execute(
        select(d.reason, func.count(), total, func.max(d.last_seen_at))
        .group_by(d.reason)
        .order_by(total.desc(), d.reason)
    ).all()
    return tuple(DropReason(reason, int(f), int(n), seen) for reason, f, n, seen in rows)


def ledger_figures(uow: UnitOfWork, public_key: Ed25519PublicKey) -> LedgerFigures:
    """The log's size and its latest signed head, checked against the key and the
    stored tree (a few node reads, not a recomputation)."""
    size = ledger.tree_size(uow)
    heads = int(uow.connection.execute(select(func.count()).select_from(ledger_heads)).scalar_one())
    waiting = (pending_count(uow), oldest_pending(uow))
    head = ledger.latest_head(uow)
    if head is None:
        return LedgerFigures(size, heads, None, None, None, *waiting)
    try:
        intact = ledger.root_at(uow, head.size) == head.root
    except ledger.LedgerDamaged:
        intact = False
    verified = intact and ledger.verify_head(head, public_key)
    return LedgerFigures(size, heads, head.size, head.signed_at, verified, *waiting)


def delivery_health(uow: UnitOfWork, policy: Policy) -> tuple[DeliveryHealth, ...]:
    """Per destination the policy declares (and any the outbox still names)."""
    o = outbox.c
    pending = o.state == PENDING
    rows = uow.connection.execute(
        select(
            o.destination,
            _count(pending & (o.attempts == 0)),
            _count(pending & (o.attempts > 0)),
            _count(o.state == DELIVERED),
            _count(o.state == SKIPPED),
            _count(o.state == DEAD),
            func.min(case((pending, o.created_at))),
            func.max(case((o.state == DELIVERED, o.finished_at))),
        ).group_by(o.destination)
    ).all()
    found = {row[0]: row[1:] for row in rows}
    n = notices.c
    notice_rows = uow.connection.execute(
        select(n.destination, _count(n.state == "pending"), _count(n.state == "dead")).group_by(
            n.destination
        )
    ).all()
    noticed = {name: (int(p), int(d)) for name, p, d in notice_rows}
    names = list(policy.spec.destinations) + sorted(
        (set(found) | set(noticed)) - set(policy.spec.destinations)
    )
    out = []
    for name in names:
        queued, retrying, delivered, skipped, dead, oldest, last = found.get(
            name, (0, 0, 0, 0, 0, None, None)
        )
        pending_notices, dead_notices = noticed.get(name, (0, 0))
        out.append(
            DeliveryHealth(
                destination=name,
                queued=int(queued),
                retrying=int(retrying),
                delivered=int(delivered),
                skipped=int(skipped),
                dead=int(dead),
                oldest_waiting_since=oldest,
                last_delivered_at=last,
                notices_pending=pending_notices,
                notices_dead=dead_notices,
            )
        )
    return tuple(out)


def trust_dashboard(
    uow: UnitOfWork,
    policy: Policy,
    public_key: Ed25519PublicKey,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
) -> Dashboard:
    """Every figure of the dashboard for `[start, end)`, as of `now`."""
    return Dashboard(
        start=start,
        end=end,
        now=now,
        customers=customer_count(uow),
        consent=consent_activity(uow, start=start, end=end),
        rates=consent_rates(uow, policy),
        requests=request_figures(uow, start=start, end=end, now=now),
        drops=drops_by_reason(uow),
        ledger=ledger_figures(uow, public_key),
        deliveries=delivery_health(uow, policy),
    )
