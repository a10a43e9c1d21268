"""Data-subject requests: received -> verified -> processing -> done | refused.

A request is verified by whoever stands behind it: the company's own backend (an API
key with `admin` or `requests:write`, having signed the customer in), a portal
session, or a one-time code sent to the email address on file (`verification`).
Once verified, most kinds complete at once (`runner`). Each step leaves a ledger
entry; none holds a value. The legal deadline is stored with the request: one
month under the GDPR (the default, the strictest), 45 days under the CCPA.
"""

from __future__ import annotations

import calendar
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import select, update

from trustable.consent.service import check_jurisdiction
from trustable.consent.tables import consent_records
from trustable.core.errors import InvalidInput, NotFound, TrustableError
from trustable.core.ids import new_id
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.rights.tables import rights_requests
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

TOKEN_DAYS = 7  # how long a request token opens its request's status and export
TOKEN_PREFIX = "tr_req_"


class Kind(StrEnum):
    access = "access"
    export = "export"  # Art. 20 portability: the same content, machine-readable
    rectify = "rectify"
    erase = "erase"
    restrict = "restrict"
    object = "object"


class State(StrEnum):
    received = "received"
    verified = "verified"
    processing = "processing"
    done = "done"
    refused = "refused"


class Channel(StrEnum):
    api = "api"
    email = "email"
    portal = "portal"
    # Signing in to the portal by mailed code: an access request (the portal shows
    # everything held), answered at once. Kept in the queue and the ledger like any
    # other, but not counted among the requests customers file.
    sign_in = "sign_in"


FINAL = (State.done, State.refused)

SHARED_CONTACT = "shared_contact"
# Why a request waits for the privacy team rather than a code or a session.
REVIEWS = {
    SHARED_CONTACT: (
        "the address is a verified contact of more than one customer: no code was sent; "
        "tell them apart before acting"
    ),
}


class RequestRefused(TrustableError):
    """The request cannot go on; the message is what the customer reads."""

    code = "request_refused"
    status = 409


@dataclass(frozen=True)
class RightsRequest:
    request_id: str
    customer_id: str | None
    kind: Kind
    state: State
    channel: Channel
    jurisdiction: str | None
    received_at: datetime
    due_at: datetime
    verified_at: datetime | None
    completed_at: datetime | None
    refusal: str | None
    detail: dict[str, Any]
    sealed: bytes | None

    def overdue(self, now: datetime) -> bool:
        """Past its deadline and not answered. A portal sign-in whose code was never
        entered asked for nothing anyone must answer: it is never overdue."""
        if self.channel is Channel.sign_in and self.state is State.received:
            return False
        return self.state not in FINAL and now > self.due_at

    @property
    def review(self) -> str | None:
        """Why the privacy team must act on it by hand, if it must."""
        reason = self.detail.get("review")
        return REVIEWS.get(reason) if isinstance(reason, str) else None


def due_date(received: datetime, jurisdiction: str | None) -> datetime:
    """The legal deadline: 45 days in California (CCPA), else one calendar month
    (GDPR Art. 12(3); the strictest, so also the default when nothing is known)."""
    if jurisdiction == "US-CA":
        return received + timedelta(days=45)
    year, month = (
        (received.year + 1, 1) if received.month == 12 else (received.year, received.month + 1)
    )
    day = min(received.day, calendar.monthrange(year, month)[1])
    return received.replace(year=year, month=month, day=day)


def customer_jurisdiction(uow: UnitOfWork, customer_id: str | None) -> str | None:
    """The jurisdiction the customer's latest consent was given under, if any."""
    if customer_id is None:
        return None
    row = uow.connection.execute(
        select(consent_records.c.jurisdiction)
        .where(
            consent_records.c.customer_id == customer_id,
            consent_records.c.jurisdiction.is_not(None),
        )
        .order_by(consent_records.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else str(row[0])


def check_detail(policy: Policy, kind: Kind, detail: dict[str, Any]) -> dict[str, Any]:
    """What a kind needs besides the customer, checked before anything is written.
    (A correction's value is checked and sealed by `rectify.correction_detail`.)"""
    if kind is Kind.object:
        purposes = detail.get("purposes")
        if not isinstance(purposes, list) or not purposes:
            raise InvalidInput(
                "an objection names the purposes it stops: purposes [..]", code="invalid_request"
            )
        for purpose in purposes:
            if not isinstance(purpose, str) or policy.purpose(purpose) is None:
                raise InvalidInput(f"unknown purpose '{purpose}'", code="unknown_purpose")
        return {"purposes": sorted(set(purposes))}
    if kind is Kind.rectify:
        if set(detail) != {"target", "name"}:
            raise InvalidInput("a rectify request says what to correct", code="invalid_request")
        return detail
    if detail:
        raise InvalidInput(f"a {kind.value} request takes no detail", code="invalid_request")
    return {}


def open_request(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    kind: Kind,
    customer_id: str | None,
    channel: Channel,
    now: datetime,
    actor: str,
    jurisdiction: str | None = None,
    detail: dict[str, Any] | None = None,
    sealed: bytes | None = None,
    review: str | None = None,
) -> RightsRequest:
    """Record a new request (state `received`) and its ledger entry.

    `review` flags it for the privacy team, who must act on it by hand (`REVIEWS`
    says why, in the queue's words)."""
    checked = check_detail(policy, kind, detail or {})
    if review is not None:
        checked = {**checked, "review": review}
    where = check_jurisdiction(jurisdiction) or customer_jurisdiction(uow, customer_id)
    found = RightsRequest(
        request_id=new_id("req"),
        customer_id=customer_id,
        kind=kind,
        state=State.received,
        channel=channel,
        jurisdiction=where,
        received_at=now,
        due_at=due_date(now, where),
        verified_at=None,
        completed_at=None,
        refusal=None,
        detail=checked,
        sealed=sealed,
    )
    uow.connection.execute(
        rights_requests.insert(),
        [
            {
                "request_id": found.request_id,
                "customer_id": customer_id,
                "kind": kind.value,
                "state": found.state.value,
                "channel": channel.value,
                "jurisdiction": where,
                "received_at": now,
                "due_at": found.due_at,
                "detail": orjson.dumps(checked).decode(),
                "sealed": sealed,
            }
        ],
    )
    log_step(uow, vault, found, actor=actor, now=now)
    return found


def log_step(
    uow: UnitOfWork,
    vault: Vault,
    request: RightsRequest,
    *,
    actor: str,
    now: datetime,
    customer_known: bool = True,
) -> None:
    """The ledger entry of a request's step (its new state), never its values."""
    ledger.submit(
        uow,
        vault,
        [
            ledger.Record(
                kind="request",
                customer_id=request.customer_id if customer_known else None,
                actor=actor,
                detail={
                    "request": request.request_id,
                    "type": request.kind.value,
                    "state": request.state.value,
                    "channel": request.channel.value,
                },
            )
        ],
        now=now,
    )


def _request(row: Any) -> RightsRequest:
    return RightsRequest(
        request_id=row.request_id,
        customer_id=row.customer_id,
        kind=Kind(row.kind),
        state=State(row.state),
        channel=Channel(row.channel),
        jurisdiction=row.jurisdiction,
        received_at=row.received_at,
        due_at=row.due_at,
        verified_at=row.verified_at,
        completed_at=row.completed_at,
        refusal=row.refusal,
        detail=orjson.loads(row.detail),
        sealed=row.sealed,
    )


def get_request(uow: UnitOfWork, request_id: str) -> RightsRequest:
    row = uow.connection.execute(
        select(rights_requests).where(rights_requests.c.request_id == request_id)
    ).first()
    if row is None:
        raise NotFound("no such request", code="unknown_request")
    return _request(row)


def list_requests(
    uow: UnitOfWork,
    *,
    now: datetime,
    state: State | None = None,
    kind: Kind | None = None,
    overdue: bool = False,
    customer_id: str | None = None,
    sign_ins: bool = True,
    limit: int = 500,
) -> list[RightsRequest]:
    """Requests, oldest deadline first, filtered as asked. `sign_ins=False` leaves out
    portal sign-ins: the portal lists the requests a customer filed, and a customer
    who signs in every week would otherwise see a list of sign-ins."""
    stmt = select(rights_requests).order_by(rights_requests.c.due_at, rights_requests.c.request_id)
    if state is not None:
        stmt = stmt.where(rights_requests.c.state == state.value)
    if kind is not None:
        stmt = stmt.where(rights_requests.c.kind == kind.value)
    if customer_id is not None:
        stmt = stmt.where(rights_requests.c.customer_id == customer_id)
    if not sign_ins:
        stmt = stmt.where(rights_requests.c.channel != Channel.sign_in.value)
    if overdue:
        unanswered_sign_in = (rights_requests.c.channel == Channel.sign_in.value) & (
            rights_requests.c.state == State.received.value
        )
        stmt = stmt.where(
            rights_requests.c.state.not_in([s.value for s in FINAL]),
            rights_requests.c.due_at < now,
            ~unanswered_sign_in,
        )
    rows = uow.connection.execute(stmt.limit(limit)).all()
    return [_request(r) for r in rows]


def move(
    uow: UnitOfWork,
    vault: Vault,
    request: RightsRequest,
    state: State,
    *,
    actor: str,
    now: datetime,
    refusal: str | None = None,
    detail: dict[str, Any] | None = None,
    customer_known: bool = True,
) -> RightsRequest:
    """Put a request in its next state (with its ledger entry)."""
    if request.state in FINAL:
        raise RequestRefused(f"this request is already {request.state.value}")
    values: dict[str, Any] = {"state": state.value}
    if state is State.verified:
        values["verified_at"] = now
    if state in FINAL:
        values["completed_at"] = now
        values["sealed"] = None  # a correction's new value is not kept once applied
    if refusal is not None:
        values["refusal"] = refusal[:500]
    if detail is not None:
        values["detail"] = orjson.dumps(detail).decode()
    uow.connection.execute(
        update(rights_requests)
        .where(rights_requests.c.request_id == request.request_id)
        .values(**values)
    )
    moved = replace(
        request,
        state=state,
        verified_at=now if state is State.verified else request.verified_at,
        completed_at=now if state in FINAL else request.completed_at,
        refusal=values.get("refusal", request.refusal),
        detail=detail if detail is not None else request.detail,
        sealed=None if state in FINAL else request.sealed,
    )
    log_step(uow, vault, moved, actor=actor, now=now, customer_known=customer_known)
    return moved


def refuse(
    uow: UnitOfWork, vault: Vault, request: RightsRequest, reason: str, *, actor: str, now: datetime
) -> RightsRequest:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a refusal says why, in words the customer reads", code="invalid_reason")
    return move(uow, vault, request, State.refused, actor=actor, now=now, refusal=reason)


# -- request tokens: what lets a verified requester see status and export -------------


def issue_token(uow: UnitOfWork, vault: Vault, request: RightsRequest, *, now: datetime) -> str:
    """A new bearer token for this request (only its keyed hash is kept)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    uow.connection.execute(
        update(rights_requests)
        .where(rights_requests.c.request_id == request.request_id)
        .values(
            token_hash=vault.blind_index("request_token", token),
            token_expires_at=now + timedelta(days=TOKEN_DAYS),
        )
    )
    return token


def request_for_token(uow: UnitOfWork, vault: Vault, token: str, *, now: datetime) -> RightsRequest:
    """The request a token opens; the same error for an unknown or expired token."""
    row = uow.connection.execute(
        select(rights_requests).where(
            rights_requests.c.token_hash == vault.blind_index("request_token", token)
        )
    ).first()
    if row is None or row.token_expires_at is None or row.token_expires_at < now:
        raise NotFound("no such request, or its token expired", code="unknown_request")
    return _request(row)


def erase_requests(uow: UnitOfWork, customer_id: str, *, keep: str) -> int:
    """Unlink a customer's other requests from them (erasure); `keep` stays linked
    so its requester can follow it and fetch its certificate."""
    result = uow.connection.execute(
        update(rights_requests)
        .where(
            rights_requests.c.customer_id == customer_id,
            rights_requests.c.request_id != keep,
        )
        .values(customer_id=None, sealed=None, token_hash=None)
    )
    return int(result.rowcount)
