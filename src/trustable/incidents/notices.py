"""Telling each affected customer, in plain words, once.

A notice says what happened, which of *their* data was involved (only the categories
this customer had in the incident, not the incident's whole list), what the company
did, what they can do, and where their privacy portal is. Notices go out only after a
privacy officer approved them, by email to the address on file (decrypted from the
vault at the moment of sending, never stored elsewhere), and never twice: each
customer's notice state moves from `pending` to `sent` (or `no_email`) in the same
unit of work as its ledger entry (`incident_notice`, naming the customer by pseudonym).
A notice the mail server never took, after every attempt, moves on to `failed` with a
ledger entry of its own; sending again sends those, and only those.

When only ciphertext left (low risk, GDPR Art. 34(3)(a)), the law does not require
telling each person; sending anyway is a choice the officer states (`anyway=True`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from trustable.identity.contacts import contact_emails
from trustable.incidents.affected import affected_customers
from trustable.incidents.service import (
    Exposed,
    Incident,
    NoticesAlreadySent,
    NoticesNotRequired,
    NoticeState,
    Risk,
    Status,
    Store,
    WrongState,
    add_steps,
    get_incident,
)
from trustable.incidents.tables import incident_customers, incidents
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str


@dataclass
class Sending:
    """What was sent: the mails to hand to the mailer once the unit of work commits."""

    incident: Incident
    # (customer id, to, subject, body)
    mails: list[tuple[str, str, str, str]] = field(default_factory=list)
    no_email: int = 0
    again: bool = False  # the notices that failed, sent again

    @property
    def sent(self) -> int:
        return len(self.mails)


_WHAT_LEFT = {
    Exposed.ciphertext: (
        "What was taken is encrypted with a key of your own that was not taken with it: "
        "without that key it cannot be read."
    ),
    Exposed.keys: (
        "What was taken are encryption keys, including the one that protects your data. "
        "The data itself was not taken with them, but we treat your data as at risk."
    ),
    Exposed.both: (
        "What was taken includes your encrypted data and the key that opens it, so it "
        "must be treated as readable by whoever took it."
    ),
    Exposed.cleartext: "What was exposed was readable as it was.",
}

_YOU_CAN = {
    "user.contact": "Be wary of unexpected emails, calls or letters that mention us.",
    "user.account": "Change your password with us and anywhere you use the same one.",
    "user.financial": "Watch your bank and card statements, and tell your bank if "
    "something looks wrong.",
    "user.device": "Be wary of messages that seem to know which device you use.",
}


def draft(
    policy: Policy, incident: Incident, categories: tuple[str, ...], portal_url: str
) -> Notice:
    """The notice one customer reads: their categories only, no one else's."""
    organization = policy.spec.organization
    names = sorted({policy.category_label(c) for c in categories}) or ["some of your data"]
    advice = [
        text for prefix, text in _YOU_CAN.items() if any(c.startswith(prefix) for c in categories)
    ]
    advice += [
        "See everything we hold about you, download it, or have it erased, in your "
        f"privacy portal: {portal_url}",
        f"Write to us at {organization.contact} with any question.",
    ]
    where = {
        Store.data_store: "our customer database",
        Store.backup: "a backup copy of our customer database",
        Store.key_store: "the store that keeps our customers' encryption keys",
        Store.destination: f"a service we send data to (“{incident.destination}”)",
    }[incident.store]
    lines = [
        "Hello,",
        "",
        f"We are writing to tell you about a security incident at {organization.name}.",
        "",
        "What happened",
        f"On {incident.discovered_at:%-d %B %Y} we found that {where} was exposed "
        f"between {incident.window_start:%-d %B %Y, %H:%M} and "
        f"{incident.window_end:%-d %B %Y, %H:%M} UTC. {_WHAT_LEFT[incident.exposed]}",
        "",
        "Which of your data",
        "These kinds of data about you were involved: " + ", ".join(names) + ".",
        "",
        "What we did",
        incident.measures or "We closed the exposure and are investigating it.",
        "",
        "What you can do",
        *[f"- {line}" for line in advice],
        "",
        f"{organization.name}",
        f"(incident reference {incident.incident_id})",
    ]
    subject = f"{organization.name}: a security incident involving your data"
    return Notice(subject, "\n".join(lines) + "\n")


def send_notices(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    incident: Incident,
    *,
    portal_url: str,
    actor: str,
    now: datetime,
    anyway: bool = False,
) -> Sending:
    """Mark every pending notice sent (or `no_email`), with its ledger entry; the
    caller commits, then hands `mails` to the mailer. Once the notices went out, only
    those that failed are sent again."""
    again = incident.status is Status.notified
    waiting = {NoticeState.failed} if again else {NoticeState.pending, NoticeState.failed}
    if not again and incident.status is not Status.approved:
        raise WrongState("a privacy officer must approve the notices before they are sent")
    if incident.risk is Risk.low and not anyway and not again:  # chosen the first time
        raise NoticesNotRequired(
            "only ciphertext left, without its keys: GDPR Art. 34(3)(a) does not require "
            "telling each person. Send anyway only if you choose to (--anyway)"
        )
    pending = [c for c in affected_customers(uow, incident.incident_id) if c.notice in waiting]
    if again and not pending:
        raise NoticesAlreadySent(
            "the notices of this incident were already sent: a notice is never sent twice"
        )
    vault.load_keys(c.customer_id for c in pending)
    addresses = contact_emails(uow, vault, [c.customer_id for c in pending])
    sending = Sending(incident, again=again)
    records: list[ledger.Record] = []
    states: dict[NoticeState, list[str]] = {NoticeState.sent: [], NoticeState.no_email: []}
    for customer in pending:
        address = addresses.get(customer.customer_id)
        if address is not None:
            notice = draft(policy, incident, customer.categories, portal_url)
            sending.mails.append((customer.customer_id, address, notice.subject, notice.body))
            state = NoticeState.sent
        else:
            sending.no_email += 1
            state = NoticeState.no_email
        states[state].append(customer.customer_id)
        records.append(
            ledger.Record(
                kind="incident_notice",
                customer_id=customer.customer_id,
                actor=actor,
                detail={
                    "incident": incident.incident_id,
                    "state": state.value,
                    "categories": list(customer.categories),
                },
            )
        )
    for state, ids in states.items():
        for start in range(0, len(ids), 500):
            uow.connection.execute(
                update(incident_customers)
                .where(
                    incident_customers.c.incident_id == incident.incident_id,
                    incident_customers.c.customer_id.in_(ids[start : start + 500]),
                    incident_customers.c.notice.in_([w.value for w in waiting]),
                )
                .values(notice=state.value, notice_at=now)
            )
    uow.connection.execute(
        update(incidents)
        .where(incidents.c.incident_id == incident.incident_id)
        .values(status=Status.notified.value)
    )
    ledger.submit(uow, vault, records, now=now)
    add_steps(
        uow,
        vault,
        incident.incident_id,
        [
            (
                "notices_sent_again" if again else "notices_sent",
                {"sent": sending.sent, "no_email": sending.no_email, "anyway": anyway},
            )
        ],
        actor=actor,
        now=now,
    )
    sending.incident = get_incident(uow, incident.incident_id)
    return sending


def mark_failed(
    uow: UnitOfWork,
    vault: Vault,
    incident_id: str,
    customer_id: str,
    *,
    actor: str,
    now: datetime,
) -> bool:
    """The mail server never took this customer's notice: say so (state `failed`,
    and a ledger entry, so the customer's history does not claim they were told), so
    the officer sees it and sending again reaches them. False if it was not `sent`."""
    found = uow.connection.execute(
        update(incident_customers)
        .where(
            incident_customers.c.incident_id == incident_id,
            incident_customers.c.customer_id == customer_id,
            incident_customers.c.notice == NoticeState.sent.value,
        )
        .values(notice=NoticeState.failed.value, notice_at=now)
        .returning(incident_customers.c.categories)
    ).first()
    if found is None:
        return False
    ledger.submit(
        uow,
        vault,
        [
            ledger.Record(
                kind="incident_notice",
                customer_id=customer_id,
                actor=actor,
                detail={
                    "incident": incident_id,
                    "state": NoticeState.failed.value,
                    "categories": found[0].split(),
                },
            )
        ],
        now=now,
    )
    return True


def preview(
    uow: UnitOfWork, policy: Policy, incident: Incident, *, portal_url: str
) -> Notice | None:
    """One drafted notice, for the officer to read before approving (the first
    affected customer's categories; no address, no value)."""
    first = uow.connection.execute(
        select(incident_customers.c.categories)
        .where(incident_customers.c.incident_id == incident.incident_id)
        .order_by(incident_customers.c.customer_id)
        .limit(1)
    ).first()
    if first is None:
        return None
    return draft(policy, incident, tuple(first[0].split()), portal_url)
