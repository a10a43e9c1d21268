"""Verifying a request made by email address alone: a one-time code to that address.

The code goes only to a verified contact of exactly one customer (docs/identity.md):
an address a public key merely claimed names nobody, and one that several customers
hold goes to the privacy team's queue instead. The answer is the same for every
address, known or not, so the endpoint tells nobody who is a customer: an unknown
address gets a request and a code row too, one no code can ever match. Codes
expire, allow a few attempts, are compared in constant time and kept only as keyed
hashes; sends per address are limited, so the endpoint cannot be used to bomb an
inbox, and a request whose code was guessed wrong too often is refused for good.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from trustable.core.errors import InvalidInput, NotFound, TrustableError
from trustable.identity.contacts import AmbiguousContact, find_contact, vouch
from trustable.identity.kinds import PROOF, normalise
from trustable.identity.service import linked_identifiers
from trustable.ledger import service as ledger
from trustable.policy.service import Policy
from trustable.rights.rectify import correction_detail
from trustable.rights.service import (
    SHARED_CONTACT,
    Channel,
    Kind,
    RightsRequest,
    State,
    get_request,
    move,
    open_request,
)
from trustable.rights.tables import verification_codes
from trustable.storage.bulk import delete_customer_rows
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=15)
MAX_ATTEMPTS = 5
SENDS_PER_HOUR = 3  # per address


class CodeRejected(TrustableError):
    """Wrong, expired or used code: one answer for all, so none of them is told apart."""

    code = "invalid_code"
    status = 400


class TooManyAttempts(TrustableError):
    code = "too_many_attempts"
    status = 429


@dataclass(frozen=True)
class CodeToSend:
    """What the entry point mails after its commit (nothing when `to` is None)."""

    to: str | None
    code: str
    kind: Kind


def _hash(vault: Vault, request_id: str, code: str) -> str:
    return vault.blind_index("otp:" + request_id, code)


def _new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def _may_send(uow: UnitOfWork, address_index: str, now: datetime) -> bool:
    """Whether this address may get another code this hour (`SENDS_PER_HOUR`), for
    requests and proofs alike: neither can be used to bomb an inbox."""
    recent = uow.connection.execute(
        select(func.count())
        .select_from(verification_codes)
        .where(
            verification_codes.c.address_index == address_index,
            verification_codes.c.sent_at > now - timedelta(hours=1),
        )
    ).scalar_one()
    return int(recent) < SENDS_PER_HOUR


def request_by_email(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    email: str,
    kind: Kind,
    now: datetime,
    jurisdiction: str | None = None,
    detail: dict[str, Any] | None = None,
    correction: tuple[str, str, Any] | None = None,
    channel: Channel = Channel.email,
) -> tuple[RightsRequest, CodeToSend]:
    """Open a request for whoever holds `email`, and a code for the address on file
    (`channel`: `sign_in` when it is the portal's sign-in)."""
    address = normalise("email", email)
    if "@" not in address or len(address) > 254:
        raise InvalidInput("email must be an email address", code="invalid_email")
    try:
        customer_id = find_contact(uow, vault, "email", address)
        review = None
    except AmbiguousContact:
        customer_id, review = None, SHARED_CONTACT
    sealed = None
    if kind is Kind.rectify:
        if correction is None:
            raise InvalidInput("a rectify request says what to correct", code="invalid_request")
        detail, sealed = correction_detail(vault, policy, customer_id, correction)
    request = open_request(
        uow,
        vault,
        policy,
        kind=kind,
        customer_id=customer_id,
        channel=channel,
        now=now,
        actor="email",
        jurisdiction=jurisdiction,
        detail=detail,
        sealed=sealed,
        review=review,
    )
    code = _new_code()
    address_index = vault.blind_index("email", address)
    # Unknown address: a hash no code matches (random, never sent). Over the limit:
    # the request exists, no mail goes out; the caller cannot see the difference.
    known = customer_id is not None and _may_send(uow, address_index, now)
    stored = _hash(vault, request.request_id, code) if known else secrets.token_hex(32)
    uow.connection.execute(
        verification_codes.insert(),
        [
            {
                "request_id": request.request_id,
                "customer_id": customer_id,
                "address_index": address_index,
                "code_hash": stored,
                "sent_at": now,
                "expires_at": now + CODE_TTL,
                "attempts": 0,
            }
        ],
    )
    return request, CodeToSend(address if known else None, code, kind)


@dataclass(frozen=True)
class Confirmation:
    """How a code attempt went. The entry point commits first (an attempt counts even
    when it fails), then answers: `raise_if_rejected` turns a failure into its error."""

    request: RightsRequest | None
    locked: bool = False

    def raise_if_rejected(self) -> RightsRequest:
        if self.locked:
            raise TooManyAttempts("too many wrong codes: this request is closed")
        if self.request is None:
            raise CodeRejected("the code is wrong or expired")
        return self.request


def confirm_code(
    uow: UnitOfWork, vault: Vault, *, request_id: str, code: str, now: datetime
) -> Confirmation:
    """Try a request's code: `verified` on a match; otherwise the attempt is counted,
    and the one that uses up the allowance refuses the request for good."""
    row = uow.connection.execute(
        select(verification_codes).where(verification_codes.c.request_id == request_id)
    ).first()
    if row is None:
        return Confirmation(None)
    request = get_request(uow, request_id)
    if (
        row.used_at is not None
        or row.attempts >= MAX_ATTEMPTS
        or request.state is not State.received
    ):
        return Confirmation(None)
    attempts = row.attempts + 1
    given = code.strip() if isinstance(code, str) else ""
    matches = hmac.compare_digest(row.code_hash, _hash(vault, request_id, given))
    if matches and now <= row.expires_at and request.customer_id is not None:
        uow.connection.execute(
            update(verification_codes)
            .where(verification_codes.c.request_id == request_id)
            .values(attempts=attempts, used_at=now)
        )
        return Confirmation(move(uow, vault, request, State.verified, actor="email", now=now))
    uow.connection.execute(
        update(verification_codes)
        .where(verification_codes.c.request_id == request_id)
        .values(attempts=attempts)
    )
    if attempts < MAX_ATTEMPTS:
        return Confirmation(None)
    move(
        uow,
        vault,
        request,
        State.refused,
        actor="email",
        now=now,
        refusal="too many wrong codes: make a new request",
    )
    return Confirmation(None, locked=True)


def erase_codes(uow: UnitOfWork, customer_id: str) -> int:
    return delete_customer_rows(uow, customer_id, {"codes": verification_codes})["codes"]


def code_mail(code: CodeToSend) -> tuple[str, str]:
    """Subject and body of the code mail: the code, what it is for, nothing else."""
    subject = "Your verification code"
    body = (
        f"Your code is {code.code}\n\n"
        f"It confirms your {code.kind.value} request and expires in "
        f"{int(CODE_TTL.total_seconds() // 60)} minutes. If you did not ask for it, "
        "ignore this message: nothing happens without the code.\n"
    )
    return subject, body


# -- proving an address from the portal ----------------------------------------------

PROOF_PREFIX = "prf_"


def prove_address(
    uow: UnitOfWork, vault: Vault, *, customer_id: str, handle: int, now: datetime
) -> tuple[str, str | None, str]:
    """Start proving that one of a signed-in customer's email addresses is theirs: a
    code to that address. Returns the proof's id, the address to mail (None when the
    hourly sends to it are spent: the page looks the same) and the code.

    Only an email can be proved here (Trustable sends mail, not text messages); a
    phone becomes a contact when the shop's backend vouches for it."""
    linked = {i.handle: i for i in linked_identifiers(uow, vault, customer_id)}
    found = linked.get(handle)
    if found is None:
        raise NotFound("no such identifier of yours", code="unknown_identifier")
    if found.kind != "email":
        raise InvalidInput(
            "only an email address can be proved here: the shop confirms phone numbers",
            code="not_provable",
        )
    address_index = vault.blind_index("email", found.value)
    proof_id = PROOF_PREFIX + secrets.token_hex(12)
    code = _new_code()
    sending = _may_send(uow, address_index, now)
    uow.connection.execute(
        verification_codes.insert(),
        [
            {
                "request_id": proof_id,
                "customer_id": customer_id,
                "address_index": address_index,
                "code_hash": _hash(vault, proof_id, code) if sending else secrets.token_hex(32),
                "sent_at": now,
                "expires_at": now + CODE_TTL,
                "attempts": 0,
            }
        ],
    )
    return proof_id, found.value if sending else None, code


def confirm_address(
    uow: UnitOfWork, vault: Vault, *, customer_id: str, proof_id: str, code: str, now: datetime
) -> str | None:
    """Try a proof's code. On a match the address becomes a contact proved by the
    customer (ledger entry `contact_verified`, without the address) and its kind is
    returned; otherwise the attempt counts and None is returned. The caller commits
    either way."""
    row = uow.connection.execute(
        select(verification_codes).where(
            verification_codes.c.request_id == proof_id,
            verification_codes.c.customer_id == customer_id,
        )
    ).first()
    if row is None or row.used_at is not None or row.attempts >= MAX_ATTEMPTS:
        return None
    given = code.strip() if isinstance(code, str) else ""
    matches = hmac.compare_digest(row.code_hash, _hash(vault, proof_id, given))
    done = matches and now <= row.expires_at
    uow.connection.execute(
        update(verification_codes)
        .where(verification_codes.c.request_id == proof_id)
        .values(attempts=row.attempts + 1, used_at=now if done else None)
    )
    if not done:
        return None
    if not vouch(uow, customer_id, "email", row.address_index, how=PROOF, now=now):
        return None  # unlinked meanwhile
    ledger.submit(
        uow,
        vault,
        [ledger.Record("contact_verified", customer_id, "portal", {"kind": "email", "how": PROOF})],
        now=now,
    )
    return "email"


def proof_mail(code: str) -> tuple[str, str]:
    """Subject and body of the mail that proves an address: the code, nothing else."""
    return (
        "Confirm your email address",
        f"Your code is {code}\n\n"
        "Enter it in your privacy portal to confirm this address is yours; it expires in "
        f"{int(CODE_TTL.total_seconds() // 60)} minutes. If you did not ask for it, "
        "ignore this message: nothing changes without the code.\n",
    )
