"""Erasure: delete the customer's rows, destroy their data key, tell the destinations.

Deleting rows empties the live store; destroying the data key is what reaches every
copy: a backup or a stolen copy of the data store holds only ciphertext under a key
that no longer exists anywhere (the key store is separate, and keys are never
backed up with the data). The ledger's pseudonym for the customer is derived from
that key, so it dies with it: their ledger entries stay, verifiable, but can no
longer be tied to anyone.

Every delete goes by `customer_id` through an index: an erasure costs what this
customer holds, not what the store holds.

Mail written to the pickup folder (`core.mail`, when no SMTP server is set) is a
copy of the customer's address outside both stores: step one removes every file
addressed to any of their addresses, before the identifiers that name them go, and
counts the files under `mail_files` in the ledger entry and the certificate. The
files go before the commit: if the transaction then fails, the rerun finds none,
and mail of a customer who asked to be erased is gone either way. Mail queued in
the meantime (a code requested a moment before) is swept again once the keys are
gone, and counted too (`runner`).

Two stores, two steps (`runner.complete_erasure`): first the data-store deletion,
the destination notices and the ledger entry commit together (request `processing`,
the ids whose keys must go listed in it); then the keys are destroyed and the
request is `done`. A crash between the two leaves a `processing` request that the
next run finishes; rerunning the first step deletes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trustable.consent.receipts import public_key_b64, sign_document, verify_document
from trustable.consent.service import erase_consents
from trustable.core.mail import Mailer
from trustable.destinations.notices import (
    enqueue_notices,
    erase_outbox,
    notice_states,
    receivers_of,
)
from trustable.events.service import erase_events
from trustable.identity.service import erase_identity, list_identifiers
from trustable.incidents.service import erase_incident_customers
from trustable.ledger import service as ledger
from trustable.ledger.service import stamp
from trustable.policy.service import Policy
from trustable.portal.service import erase_links
from trustable.rights.service import (
    RightsRequest,
    State,
    erase_requests,
    move,
)
from trustable.rights.verification import erase_codes
from trustable.segments.service import erase_segments
from trustable.sessions.service import erase_sessions
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import KeyMissing, Vault

CERTIFICATE_FORMAT = "trustable-erasure-certificate/1"


@dataclass(frozen=True)
class Erased:
    request: RightsRequest
    customers: list[str]  # whose data keys are to be destroyed now
    # Their email addresses, in memory only: mail queued to them while step one ran
    # is looked for once more after it (empty when step one had been done before).
    addresses: tuple[str, ...] = ()


def erase_customer(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    request: RightsRequest,
    *,
    actor: str,
    now: datetime,
    mailer: Mailer | None = None,
) -> Erased:
    """Step one, in the caller's unit of work: every row, notices, the ledger entry,
    and the `mailer`'s copies of mail to the customer's addresses."""
    customer_id = request.customer_id
    assert customer_id is not None
    if request.state is State.processing and "customers" in request.detail:
        return Erased(request, list(request.detail["customers"]))  # step one was done
    destinations = receivers_of(uow, customer_id)
    addresses = tuple(_addresses(uow, vault, customer_id))
    mail_files = None if mailer is None else mailer.remove_mail_to(addresses)
    removed, counts = erase_identity(uow, customer_id)
    if mail_files is not None:
        counts["mail_files"] = mail_files
    for erased in removed:
        for found in (
            erase_events(uow, erased),
            erase_consents(uow, erased),
            {"outbox": erase_outbox(uow, erased)},
            {"verification_codes": erase_codes(uow, erased)},
            {"portal_sessions": erase_sessions(uow, erased)},
            {"portal_links": erase_links(uow, erased)},
            {"incident_customers": erase_incident_customers(uow, erased)},
            erase_segments(uow, erased),
        ):
            for name, n in found.items():
                counts[name] = counts.get(name, 0) + n
    counts["other_requests"] = erase_requests(uow, customer_id, keep=request.request_id)
    enqueue_notices(
        uow,
        request_id=request.request_id,
        customer_id=customer_id,
        destinations=destinations,
        kind="erase",
        now=now,
    )
    vault.load_keys(removed)
    # The last entries that name this customer's pseudonym (the key it comes from is
    # destroyed next); then all their entries are cut loose from the customer id.
    (index,) = ledger.append(
        uow,
        vault,
        [
            ledger.Record(
                kind="erase",
                customer_id=customer_id,
                actor=actor,
                detail={
                    "request": request.request_id,
                    "erased": counts,
                    "destinations": destinations,
                },
            )
        ],
        now=now,
    )
    detail: dict[str, Any] = {
        "customers": removed,
        "erased": counts,
        "destinations": destinations,
        "ledger_entry": index,
        "erased_at": stamp(now),
    }
    moved = move(uow, vault, request, State.processing, actor=actor, now=now, detail=detail)
    for erased in removed:
        ledger.forget_customer(uow, erased)
    return Erased(moved, removed, addresses)


def count_late_mail(request: RightsRequest, late: int) -> dict[str, Any]:
    """The request's detail with `late` more mail files counted as removed."""
    erased = dict(request.detail.get("erased", {}))
    erased["mail_files"] = int(erased.get("mail_files", 0)) + late
    return {**request.detail, "erased": erased}


def _addresses(uow: UnitOfWork, vault: Vault, customer_id: str) -> list[str]:
    """The customer's email addresses, read while their identifiers and key exist."""
    try:
        return [
            value for kind, value in list_identifiers(uow, vault, customer_id) if kind == "email"
        ]
    except KeyMissing:  # no key, nothing readable: no address to look for
        return []


def certificate(
    uow: UnitOfWork, vault: Vault, request: RightsRequest, *, now: datetime
) -> dict[str, Any]:
    """The erasure certificate as it stands now, signed with the ledger's key: what
    was erased and when, whether the keys are gone, and each destination's answer."""
    detail = request.detail
    notices = notice_states(uow, request.request_id)
    document = {
        "format": CERTIFICATE_FORMAT,
        "request": request.request_id,
        "customer": request.customer_id,
        "requested_at": stamp(request.received_at),
        "erased_at": detail.get("erased_at"),
        "completed_at": stamp(request.completed_at) if request.completed_at else None,
        "erased": detail.get("erased", {}),
        "data_keys_destroyed": request.state is State.done,
        "ledger_entry": detail.get("ledger_entry"),
        "destinations": [
            {
                "name": n.destination,
                "state": n.state,
                "acknowledged_at": stamp(n.acknowledged_at) if n.acknowledged_at else None,
            }
            for n in notices
        ],
        "complete": request.state is State.done and all(n.state == "acknowledged" for n in notices),
        "issued_at": stamp(now),
        "public_key": public_key_b64(vault),
    }
    return sign_document("certificate", document, vault)


# -- the certificate as a person reads it -------------------------------------------------

_ERASED_WORDS = {
    "identifiers": "ids and addresses you were known by",
    "events": "things you did (events)",
    "traits": "details about you",
    "received_messages": "ids of messages received",
    "consent_records": "consent choices",
    "consent_states": "current consent choices",
    "customers": "customer records",
    "outbox": "deliveries waiting to be sent",
    "verification_codes": "codes mailed to you",
    "portal_sessions": "portal sessions",
    "portal_links": "sign-in links",
    "incident_customers": "records of security incidents involving you",
    "mail_files": "copies of mail to you",
    "other_requests": "other requests of yours",
}


@dataclass(frozen=True)
class ReadableCertificate:
    """What a certificate says, in words, and whether its signature holds."""

    request: str
    customer: str
    requested_at: str
    erased_at: str | None
    completed_at: str | None
    removed: list[tuple[str, int]]  # (what, how many), the largest first
    keys_destroyed: bool
    destinations: list[tuple[str, str]]  # (name, acknowledged / pending / dead)
    complete: bool
    signature_checked: bool


def read_certificate(signed: dict[str, Any], vault: Vault) -> ReadableCertificate:
    """The signed certificate told plainly, its signature checked against the ledger's
    key (the one the ledger publishes, not the one the document names)."""
    document: dict[str, Any] = signed["certificate"]
    counts = document.get("erased") or {}
    removed = sorted(
        ((_ERASED_WORDS.get(k, k.replace("_", " ")), int(n)) for k, n in counts.items() if n),
        key=lambda row: -row[1],
    )
    return ReadableCertificate(
        request=str(document["request"]),
        customer=str(document["customer"]),
        requested_at=_moment(document["requested_at"]) or "",
        erased_at=_moment(document.get("erased_at")),
        completed_at=_moment(document.get("completed_at")),
        removed=removed,
        keys_destroyed=bool(document.get("data_keys_destroyed")),
        destinations=[(str(d["name"]), str(d["state"])) for d in document["destinations"]],
        complete=bool(document.get("complete")),
        signature_checked=verify_document("certificate", signed, vault.public_key()),
    )


def _moment(stamped: Any) -> str | None:
    """`4 December 2026, 19:23:25 UTC` from the certificate's timestamp."""
    if not stamped:
        return None
    try:
        moment = datetime.fromisoformat(str(stamped).replace("Z", "+00:00"))
    except ValueError:
        return str(stamped)
    return f"{moment:%-d %B %Y, %H:%M:%S} UTC"
