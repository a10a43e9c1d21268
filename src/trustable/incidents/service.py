"""Recording an incident, its timeline, and the approval of its notices.

An incident is what the privacy team knows of a breach: when it was discovered, which
store was exposed (the data store, the key store, one destination, a backup), the
window of the exposure, the categories of data that may have left and whether what
left was ciphertext, keys, both or clear data. Recording it computes at once, from
the stores, which customers and categories are affected (`affected.py`), so the team
answers with facts within the law's 72 hours instead of guesses.

Every step (recorded, affected set computed, notices approved, notices sent, report
submitted) is a row of the timeline and an entry of the ledger (kind `incident`),
written in the same unit of work. Neither holds a customer's value: the ledger entry
names the incident by its id and carries counts; the title, chosen by staff, stays
out of the ledger.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update

from trustable.core.errors import InvalidInput, NotFound, TrustableError
from trustable.core.ids import new_id
from trustable.incidents.tables import incident_customers, incident_steps, incidents
from trustable.ledger import service as ledger
from trustable.policy.service import Policy, fideslang_taxonomy
from trustable.storage.bulk import delete_customer_rows
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

# GDPR Art. 33(1): the supervisory authority is told within 72 hours of discovery.
REPORT_WITHIN = timedelta(hours=72)
# Clocks of the people recording an incident drift: a discovery a minute "ahead" is fine.
CLOCK_SLACK = timedelta(minutes=5)


class Store(StrEnum):
    data_store = "data_store"
    key_store = "key_store"
    destination = "destination"
    backup = "backup"


class Exposed(StrEnum):
    ciphertext = "ciphertext"  # sealed data without the keys that open it
    keys = "keys"  # customers' data keys without the data
    both = "both"  # sealed data and the keys that open it
    cleartext = "cleartext"  # data in clear (what a destination receives)


class Risk(StrEnum):
    low = "low"  # unintelligible to others: GDPR Art. 34(3)(a), no duty to tell each person
    high = "high"  # customers must be told (Art. 34(1))


class Status(StrEnum):
    recorded = "recorded"
    approved = "approved"  # notices approved by a privacy officer
    notified = "notified"  # notices sent


class NoticeState(StrEnum):
    pending = "pending"
    sent = "sent"
    no_email = "no_email"  # no address on file: counted and reported
    failed = "failed"  # the mail server never took it, after every attempt: sent again


# What each store can leak: the data store and backups hold only ciphertext (the keys
# live in the separate key store); a destination receives data in clear.
ALLOWED_EXPOSURE: dict[Store, tuple[Exposed, ...]] = {
    Store.data_store: (Exposed.ciphertext, Exposed.both),
    Store.backup: (Exposed.ciphertext, Exposed.both),
    Store.key_store: (Exposed.keys, Exposed.both),
    Store.destination: (Exposed.cleartext,),
}


class IncidentRefused(InvalidInput):
    """An incident or a step on it that Trustable will not accept, and why."""

    code = "incident_refused"


class InvalidWindow(IncidentRefused):
    code = "invalid_window"


class UnknownStore(IncidentRefused):
    code = "unknown_store"


class UnknownDestination(IncidentRefused):
    code = "unknown_destination"


class UnknownCategory(IncidentRefused):
    code = "unknown_category"


class InvalidExposure(IncidentRefused):
    code = "invalid_exposure"


class WrongState(TrustableError):
    """The step does not fit where the incident is (approve twice, send unapproved…)."""

    code = "incident_state"
    status = 409


class NoticesAlreadySent(WrongState):
    code = "notices_already_sent"


class NoticesNotRequired(WrongState):
    code = "notices_not_required"


class ReportAlreadySubmitted(WrongState):
    code = "report_already_submitted"


@dataclass(frozen=True)
class Incident:
    incident_id: str
    title: str
    discovered_at: datetime
    window_start: datetime
    window_end: datetime
    store: Store
    destination: str | None
    categories: tuple[str, ...]
    exposed: Exposed
    risk: Risk
    status: Status
    measures: str
    created_by: str
    created_at: datetime
    computed_at: datetime | None
    people: int
    records: int
    by_category: dict[str, int]
    approved_by: str | None
    approved_at: datetime | None
    report_submitted_at: datetime | None
    report_submitted_by: str | None
    delay_reason: str | None

    @property
    def report_due(self) -> datetime:
        return self.discovered_at + REPORT_WITHIN

    @property
    def where(self) -> str:
        """The exposed store in words."""
        if self.store is Store.destination:
            return f"destination “{self.destination}”"
        return self.store.value.replace("_", " ")

    @property
    def what_left(self) -> str:
        """What left, in words."""
        return {
            Exposed.ciphertext: "encrypted data, without its keys",
            Exposed.keys: "encryption keys",
            Exposed.both: "encrypted data and its keys",
            Exposed.cleartext: "data in clear",
        }[self.exposed]

    @classmethod
    def of(cls, row: Any) -> Incident:
        return cls(
            incident_id=row.incident_id,
            title=row.title,
            discovered_at=row.discovered_at,
            window_start=row.window_start,
            window_end=row.window_end,
            store=Store(row.store),
            destination=row.destination,
            categories=tuple(row.categories.split()),
            exposed=Exposed(row.exposed),
            risk=Risk(row.risk),
            status=Status(row.status),
            measures=row.measures,
            created_by=row.created_by,
            created_at=row.created_at,
            computed_at=row.computed_at,
            people=int(row.people),
            records=int(row.records),
            by_category=orjson.loads(row.by_category),
            approved_by=row.approved_by,
            approved_at=row.approved_at,
            report_submitted_at=row.report_submitted_at,
            report_submitted_by=row.report_submitted_by,
            delay_reason=row.delay_reason,
        )


@dataclass(frozen=True)
class Step:
    at: datetime
    step: str
    actor: str
    detail: dict[str, Any]
    ledger_index: int | None


def risk_of(exposed: Exposed) -> Risk:
    """Ciphertext without its keys is unintelligible to whoever holds it (Art. 34(3)(a));
    keys, keys with data, or clear data are not."""
    return Risk.low if exposed is Exposed.ciphertext else Risk.high


def _hint(value: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def known_categories(policy: Policy) -> frozenset[str]:
    """Fideslang's data categories and every category the policy names."""
    found = set(fideslang_taxonomy()[0])
    for purpose in policy.spec.purposes.values():
        found.update(purpose.categories)
    found.update(policy.spec.tracking_plan.values())
    found.update(policy.spec.event_names.values())
    return frozenset(found)


def check_categories(policy: Policy, categories: Sequence[str]) -> tuple[str, ...]:
    wanted = sorted({c.strip() for c in categories if c.strip()})
    if not wanted:
        raise UnknownCategory(
            "name at least one category of data that may be affected "
            "(a fideslang key, e.g. user.contact.email)"
        )
    known = known_categories(policy)
    for category in wanted:
        if category not in known:
            raise UnknownCategory(
                f"unknown category '{category[:80]}'{_hint(category, sorted(known))}: "
                "use a fideslang data-category key"
            )
    return tuple(wanted)


def check_window(discovered_at: datetime, start: datetime, end: datetime, now: datetime) -> None:
    for name, moment in (
        ("discovered_at", discovered_at),
        ("window_start", start),
        ("window_end", end),
    ):
        if moment.tzinfo is None:
            raise InvalidWindow(f"{name} needs a time zone (e.g. 2026-11-20T10:00:00Z)")
    if discovered_at > now + CLOCK_SLACK:
        raise InvalidWindow("the incident cannot be discovered in the future")
    if start == end:
        raise InvalidWindow("the window is empty: it must end after it starts")
    if start > end:
        raise InvalidWindow("the window is inverted: it ends before it starts")
    if end > discovered_at:
        raise InvalidWindow(
            "the window ends after the discovery: record what is known up to the "
            "discovery, and a new incident if the exposure goes on"
        )


def check_store(
    policy: Policy, store: str, destination: str | None, exposed: str
) -> tuple[Store, str | None, Exposed]:
    try:
        kind = Store(store)
    except ValueError:
        raise UnknownStore(
            f"unknown store '{store[:40]}': choose one of {', '.join(s.value for s in Store)}"
        ) from None
    try:
        what = Exposed(exposed)
    except ValueError:
        raise InvalidExposure(
            f"unknown exposure '{exposed[:40]}': choose one of "
            f"{', '.join(e.value for e in Exposed)}"
        ) from None
    if kind is Store.destination:
        names = sorted(policy.spec.destinations)
        if not destination:
            raise UnknownDestination("name the destination that was exposed")
        if destination not in policy.spec.destinations:
            known = ", ".join(names) if names else "none are declared"
            raise UnknownDestination(
                f"unknown destination '{destination[:64]}'{_hint(destination, names)}; "
                f"the policy's destinations: {known}"
            )
    elif destination:
        raise UnknownDestination("a destination is named only when the store is 'destination'")
    allowed = ALLOWED_EXPOSURE[kind]
    if what not in allowed:
        raise InvalidExposure(
            f"the {kind.value.replace('_', ' ')} can only leak "
            f"{' or '.join(a.value for a in allowed)}: "
            + {
                Store.data_store: "it holds ciphertext, and keys never sit beside it",
                Store.backup: "it holds ciphertext, and keys are never backed up with it",
                Store.key_store: "it holds keys, not data",
                Store.destination: "destinations receive data in clear",
            }[kind]
        )
    return kind, (destination if kind is Store.destination else None), what


# -- the timeline ------------------------------------------------------------------


def add_steps(
    uow: UnitOfWork,
    vault: Vault,
    incident_id: str,
    steps: Sequence[tuple[str, dict[str, Any]]],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Timeline rows and their ledger entries (kind `incident`), appended together."""
    records = [
        ledger.Record(
            kind="incident",
            customer_id=None,
            actor=actor,
            detail={"incident": incident_id, "step": step, **detail},
        )
        for step, detail in steps
    ]
    indices = ledger.append(uow, vault, records, now=now)
    uow.connection.execute(
        insert(incident_steps),
        [
            {
                "incident_id": incident_id,
                "at": now,
                "step": step,
                "actor": actor,
                "detail": orjson.dumps(detail).decode(),
                "ledger_index": index,
            }
            for (step, detail), index in zip(steps, indices, strict=True)
        ],
    )


def timeline(uow: UnitOfWork, incident_id: str) -> list[Step]:
    rows = uow.connection.execute(
        select(incident_steps)
        .where(incident_steps.c.incident_id == incident_id)
        .order_by(incident_steps.c.id)
    ).all()
    return [Step(r.at, r.step, r.actor, orjson.loads(r.detail), r.ledger_index) for r in rows]


# -- recording and reading -----------------------------------------------------------


def record_incident(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    title: str,
    discovered_at: datetime,
    window_start: datetime,
    window_end: datetime,
    store: str,
    categories: Sequence[str],
    exposed: str,
    destination: str | None = None,
    measures: str = "",
    actor: str,
    now: datetime,
) -> Incident:
    """Check and record an incident, and compute who it affects, in one unit of work."""
    from trustable.incidents.affected import compute_affected, keep_affected

    title = title.strip()
    if not 1 <= len(title) <= 200:
        raise IncidentRefused("give the incident a title of 1 to 200 characters")
    if len(measures) > 5000:
        raise IncidentRefused("measures taken: 5000 characters at most")
    check_window(discovered_at, window_start, window_end, now)
    kind, destination, what = check_store(policy, store, destination, exposed)
    wanted = check_categories(policy, categories)
    incident_id = new_id("inc")
    risk = risk_of(what)
    uow.connection.execute(
        insert(incidents),
        [
            {
                "incident_id": incident_id,
                "title": title,
                "discovered_at": discovered_at,
                "window_start": window_start,
                "window_end": window_end,
                "store": kind.value,
                "destination": destination,
                "categories": " ".join(wanted),
                "exposed": what.value,
                "risk": risk.value,
                "status": Status.recorded.value,
                "measures": measures.strip(),
                "created_by": actor,
                "created_at": now,
                "people": 0,
                "records": 0,
                "by_category": "{}",
            }
        ],
    )
    found = compute_affected(
        uow,
        policy,
        store=kind,
        destination=destination,
        categories=wanted,
        window_start=window_start,
        window_end=window_end,
    )
    keep_affected(uow, incident_id, found, now=now)
    add_steps(
        uow,
        vault,
        incident_id,
        [
            (
                "recorded",
                {
                    "store": kind.value,
                    "destination": destination,
                    "exposed": what.value,
                    "risk": risk.value,
                    "categories": list(wanted),
                    "discovered_at": ledger.stamp(discovered_at),
                    "window": [ledger.stamp(window_start), ledger.stamp(window_end)],
                },
            ),
            ("affected", {"people": found.people, "records": found.records}),
        ],
        actor=actor,
        now=now,
    )
    return get_incident(uow, incident_id)


def recompute(
    uow: UnitOfWork, vault: Vault, policy: Policy, incident: Incident, *, actor: str, now: datetime
) -> Incident:
    """Compute the affected set again (new facts in the stores); only before approval,
    so what was approved is what is sent."""
    from trustable.incidents.affected import compute_affected, keep_affected

    if incident.status is not Status.recorded:
        raise WrongState("the notices were approved: the affected set is fixed")
    uow.connection.execute(
        delete(incident_customers).where(incident_customers.c.incident_id == incident.incident_id)
    )
    found = compute_affected(
        uow,
        policy,
        store=incident.store,
        destination=incident.destination,
        categories=incident.categories,
        window_start=incident.window_start,
        window_end=incident.window_end,
    )
    keep_affected(uow, incident.incident_id, found, now=now)
    add_steps(
        uow,
        vault,
        incident.incident_id,
        [("affected", {"people": found.people, "records": found.records})],
        actor=actor,
        now=now,
    )
    return get_incident(uow, incident.incident_id)


def get_incident(uow: UnitOfWork, incident_id: str) -> Incident:
    row = uow.connection.execute(
        select(incidents).where(incidents.c.incident_id == incident_id)
    ).first()
    if row is None:
        raise NotFound("no such incident")
    return Incident.of(row)


def list_incidents(uow: UnitOfWork, limit: int = 200) -> list[Incident]:
    rows = uow.connection.execute(
        select(incidents).order_by(incidents.c.discovered_at.desc()).limit(limit)
    ).all()
    return [Incident.of(r) for r in rows]


@dataclass(frozen=True)
class NoticeCounts:
    pending: int
    sent: int
    no_email: int
    failed: int = 0


def notice_counts(uow: UnitOfWork, incident_id: str) -> NoticeCounts:
    from sqlalchemy import func

    rows = uow.connection.execute(
        select(incident_customers.c.notice, func.count())
        .where(incident_customers.c.incident_id == incident_id)
        .group_by(incident_customers.c.notice)
    ).all()
    found = {state: int(n) for state, n in rows}
    return NoticeCounts(
        found.get(NoticeState.pending.value, 0),
        found.get(NoticeState.sent.value, 0),
        found.get(NoticeState.no_email.value, 0),
        found.get(NoticeState.failed.value, 0),
    )


def approve_notices(
    uow: UnitOfWork, vault: Vault, incident: Incident, *, actor: str, now: datetime
) -> Incident:
    """A privacy officer approves the drafted notices: only then can they be sent."""
    if incident.status is not Status.recorded:
        raise WrongState(f"the notices were already approved ({incident.status.value})")
    uow.connection.execute(
        update(incidents)
        .where(incidents.c.incident_id == incident.incident_id)
        .values(status=Status.approved.value, approved_by=actor, approved_at=now)
    )
    add_steps(
        uow,
        vault,
        incident.incident_id,
        [("notices_approved", {"people": incident.people, "risk": incident.risk.value})],
        actor=actor,
        now=now,
    )
    return get_incident(uow, incident.incident_id)


def erase_incident_customers(uow: UnitOfWork, customer_id: str) -> int:
    """Erasure: the customer leaves every affected set; the incidents' totals stay."""
    return delete_customer_rows(uow, customer_id, {"incidents": incident_customers})["incidents"]
