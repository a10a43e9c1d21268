"""The report to the supervisory authority (GDPR Art. 33) and its 72-hour clock.

Art. 33(3) lists what the report must hold: (a) the nature of the breach, the
categories and approximate numbers of people and of records concerned; (b) a contact
point; (c) the likely consequences; (d) the measures taken or proposed. Every figure
here comes from the computed affected set; the contact point is the policy's
organization. The clock runs from discovery: the report is due 72 hours later, and a
report submitted late must give the reasons for the delay (Art. 33(1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from trustable.incidents.service import (
    Exposed,
    Incident,
    IncidentRefused,
    ReportAlreadySubmitted,
    Risk,
    Status,
    add_steps,
    get_incident,
    notice_counts,
)
from trustable.incidents.tables import incidents
from trustable.ledger.service import stamp
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault


@dataclass(frozen=True)
class Clock72:
    """Where the 72 hours stand."""

    discovered_at: datetime
    deadline: datetime
    now: datetime
    submitted_at: datetime | None

    @property
    def left(self) -> timedelta:
        return self.deadline - self.now

    @property
    def overdue(self) -> bool:
        return self.submitted_at is None and self.now > self.deadline

    @property
    def late(self) -> bool:
        return self.submitted_at is not None and self.submitted_at > self.deadline

    def words(self) -> str:
        """`41 h 12 min left`, `overdue by 3 h 5 min`, `submitted on time`."""
        if self.submitted_at is not None:
            return "submitted late" if self.late else "submitted on time"
        seconds = int(abs(self.left.total_seconds()))
        hours, minutes = seconds // 3600, seconds % 3600 // 60
        return (
            f"overdue by {hours} h {minutes} min"
            if self.overdue
            else f"{hours} h {minutes} min left"
        )


def clock(incident: Incident, now: datetime) -> Clock72:
    return Clock72(incident.discovered_at, incident.report_due, now, incident.report_submitted_at)


_NATURE = {
    Exposed.ciphertext: "a breach of confidentiality of encrypted data; the keys were not exposed",
    Exposed.keys: "a breach of confidentiality of the customers' encryption keys",
    Exposed.both: "a breach of confidentiality of encrypted data together with its keys",
    Exposed.cleartext: "a breach of confidentiality of data held in clear",
}

_CONSEQUENCES = {
    Risk.low: (
        "Unlikely to result in a risk to the people concerned: the data is encrypted "
        "with a key per person (AES-256-GCM) held in a separate store that was not "
        "exposed, so it is unintelligible to anyone not authorised to access it "
        "(Art. 34(3)(a))."
    ),
    Risk.high: (
        "Likely to result in a high risk: the data concerned may be read by whoever "
        "obtained it, which can lead to phishing, fraud, identity theft or loss of "
        "confidentiality for the people concerned. Each person is being informed "
        "(Art. 34(1))."
    ),
}


def regulator_report(
    uow: UnitOfWork, policy: Policy, incident: Incident, *, now: datetime
) -> dict[str, Any]:
    """The report as it stands now, with the Art. 33(3) fields and the clock."""
    organization = policy.spec.organization
    notices = notice_counts(uow, incident.incident_id)
    due = clock(incident, now)
    measures = [incident.measures] if incident.measures else []
    if incident.status is Status.notified:
        measures.append(
            f"{notices.sent} of the {incident.people} people concerned were told by email; "
            f"{notices.no_email} have no email address on file."
        )
    elif incident.risk is Risk.high:
        measures.append(f"Notices to the {incident.people} people concerned are being prepared.")
    return {
        "incident": incident.incident_id,
        "title": incident.title,
        "nature": {
            "description": f"{_NATURE[incident.exposed]}, from the {incident.where}",
            "discovered_at": stamp(incident.discovered_at),
            "window": {"start": stamp(incident.window_start), "end": stamp(incident.window_end)},
            "exposed": incident.exposed.value,
            "categories": [
                {"key": key, "name": policy.category_label(key), "people": n}
                for key, n in incident.by_category.items()
            ],
            "people": incident.people,
            "records": incident.records,
        },
        "contact": {"organization": organization.name, "contact": organization.contact},
        "likely_consequences": _CONSEQUENCES[incident.risk],
        "measures": measures,
        "risk": incident.risk.value,
        "notices": {"sent": notices.sent, "no_email": notices.no_email, "pending": notices.pending},
        "deadline": stamp(due.deadline),
        "seconds_left": int(due.left.total_seconds()),
        "overdue": due.overdue,
        "clock": due.words(),
        "submitted_at": stamp(incident.report_submitted_at)
        if incident.report_submitted_at
        else None,
        "delay_reason": incident.delay_reason,
        "generated_at": stamp(now),
    }


def submit_report(
    uow: UnitOfWork,
    vault: Vault,
    incident: Incident,
    *,
    actor: str,
    now: datetime,
    delay_reason: str | None = None,
) -> Incident:
    """Record that the report went to the authority (once), and when."""
    if incident.report_submitted_at is not None:
        raise ReportAlreadySubmitted(
            f"the report was already submitted on {stamp(incident.report_submitted_at)}"
        )
    reason = (delay_reason or "").strip()
    late = now > incident.report_due
    if late and not reason:
        raise IncidentRefused(
            "the 72 hours have passed: Art. 33(1) asks for the reasons for the delay "
            "(give a delay reason)"
        )
    if len(reason) > 2000:
        raise IncidentRefused("the delay reason: 2000 characters at most")
    uow.connection.execute(
        update(incidents)
        .where(incidents.c.incident_id == incident.incident_id)
        .values(report_submitted_at=now, report_submitted_by=actor, delay_reason=reason or None)
    )
    add_steps(
        uow,
        vault,
        incident.incident_id,
        [
            (
                "report_submitted",
                {"late": late, "people": incident.people, "records": incident.records},
            )
        ],
        actor=actor,
        now=now,
    )
    return get_incident(uow, incident.incident_id)
