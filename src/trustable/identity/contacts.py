"""Contacts: the emails and phones Trustable may sign a customer in with, send a code
to or write to. Only a vouched one is a contact (a trusted source sent it, or the
customer proved it); a claim from a public key is kept and shown, never used; an
address several customers hold as a contact is used for none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from trustable.core.errors import InvalidInput, TrustableError
from trustable.identity.kinds import CONTACT_KINDS, looks_like_email, normalise
from trustable.identity.tables import identifiers
from trustable.storage.among import among
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_ignoring_conflicts, insert_rows, upsert
from trustable.vault.service import Vault


class AmbiguousContact(TrustableError):
    """Two customers hold this address as a verified contact: it names neither."""

    code = "ambiguous_identifier"
    status = 409


def contact_holders(uow: UnitOfWork, vault: Vault, kind: str, value: str) -> list[str]:
    """Every customer holding this email or phone as a verified contact."""
    index = vault.blind_index(kind, normalise(kind, value))
    return sorted(
        set(
            uow.connection.execute(
                select(identifiers.c.customer_id).where(
                    identifiers.c.kind == kind,
                    identifiers.c.blind_index == index,
                    identifiers.c.verified_by.is_not(None),
                )
            ).scalars()
        )
    )


def find_contact(uow: UnitOfWork, vault: Vault, kind: str, value: str) -> str | None:
    """The one customer whose verified contact this is; None when nobody's;
    `AmbiguousContact` when several hold it, rather than picking one."""
    holders = contact_holders(uow, vault, kind, value)
    if len(holders) > 1:
        raise AmbiguousContact(
            f"this {kind} is a contact of more than one customer: the privacy team must "
            "tell them apart",
        )
    return holders[0] if holders else None


def contact_row(
    vault: Vault,
    customer_id: str,
    kind: str,
    value: str,
    *,
    blind_index: str | None = None,
    verified_by: str | None,
    now: datetime,
) -> dict[str, Any]:
    """An identifiers row for an email or phone: a claim (`verified_by` None) or a
    contact."""
    text = normalise(kind, value)
    return {
        "customer_id": customer_id,
        "kind": kind,
        "blind_index": blind_index or vault.blind_index(kind, text),
        "value": vault.encrypt(customer_id, "identifier", text.encode()),
        "created_at": now,
        "verified_by": verified_by,
        "verified_at": now if verified_by else None,
        "history": None,
    }


def _keep_vouched(stmt: Any) -> dict[str, Any]:
    return {
        "verified_by": func.coalesce(identifiers.c.verified_by, stmt.excluded["verified_by"]),
        "verified_at": func.coalesce(identifiers.c.verified_at, stmt.excluded["verified_at"]),
    }


def record_contacts(uow: UnitOfWork, rows: Sequence[dict[str, Any]]) -> None:
    """Store email and phone rows from `contact_row`: a customer holds an address
    once; a vouched row vouches for one already claimed, a claim never unvouches."""
    unique: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = _contact_key(row)
        if key not in unique or row["verified_by"] is not None:
            unique[key] = row
    ordered = [unique[key] for key in sorted(unique)]
    claims = [r for r in ordered if r["verified_by"] is None]
    vouching = [r for r in ordered if r["verified_by"] is not None]
    if uow.distributed:
        # On Citus `identifiers` is a reference table: an `ON CONFLICT` write to it
        # locks the table on every node, exclusively, and after the batch's own
        # plain insert of new identifiers that is an upgrade two batches can
        # deadlock on (`locks.hold_reference_writes`; a trusted batch, the only one
        # that vouches, holds that turn already). So what is already held is left
        # out, and new claims are plain inserts (a claim made meanwhile by another
        # batch fails the unique key, and the batch starts over).
        held = _held(uow, ordered)
        insert_rows(uow, identifiers, [r for r in claims if _contact_key(r) not in held])
        claims = []
        vouching = [r for r in vouching if held.get(_contact_key(r)) is None]
    # A claim of an address already held changes nothing: no write at all, which is
    # what most identify calls of a known customer are.
    insert_ignoring_conflicts(uow, identifiers, claims)
    upsert(
        uow,
        identifiers,
        vouching,
        keys=("customer_id", "kind", "blind_index"),
        update=_keep_vouched,
    )


def _contact_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["customer_id"], row["kind"], row["blind_index"])


def _held(
    uow: UnitOfWork, rows: Sequence[dict[str, Any]]
) -> dict[tuple[str, str, str], str | None]:
    """Which of these contact rows' keys are stored already, with who vouched (None:
    a claim)."""
    wanted = {_contact_key(r) for r in rows}
    indexes = sorted({key[2] for key in wanted})
    found: dict[tuple[str, str, str], str | None] = {}
    for start in range(0, len(indexes), 500):
        for customer_id, kind, index, vouched_by in uow.connection.execute(
            select(
                identifiers.c.customer_id,
                identifiers.c.kind,
                identifiers.c.blind_index,
                identifiers.c.verified_by,
            ).where(among(uow.dialect, identifiers.c.blind_index, indexes[start : start + 500]))
        ):
            if (customer_id, kind, index) in wanted:
                found[(customer_id, kind, index)] = vouched_by
    return found


def vouched_customers(uow: UnitOfWork, customer_ids: Sequence[str]) -> set[str]:
    """Those of `customer_ids` known through more than a public key: a trusted
    source named them, or they proved a contact."""
    found: set[str] = set()
    wanted = sorted(set(customer_ids))
    for start in range(0, len(wanted), 500):
        found.update(
            uow.connection.execute(
                select(identifiers.c.customer_id)
                .where(
                    identifiers.c.customer_id.in_(wanted[start : start + 500]),
                    identifiers.c.verified_by.is_not(None),
                )
                .distinct()
            ).scalars()
        )
    return found


def count_unverified_contacts(uow: UnitOfWork) -> int:
    """Emails and phones held only as claims: what awaits a trusted source or proof."""
    return int(
        uow.connection.execute(
            select(func.count())
            .select_from(identifiers)
            .where(identifiers.c.kind.in_(CONTACT_KINDS), identifiers.c.verified_by.is_(None))
        ).scalar_one()
    )


def vouch(
    uow: UnitOfWork, customer_id: str, kind: str, blind_index: str, *, how: str, now: datetime
) -> bool:
    """Mark the customer's address with this blind index as vouched for (`how`: SOURCE
    or PROOF), found by its index so nothing is decrypted; False when they no longer
    hold it (unlinked meanwhile)."""
    done = uow.connection.execute(
        update(identifiers)
        .where(
            identifiers.c.customer_id == customer_id,
            identifiers.c.kind == kind,
            identifiers.c.blind_index == blind_index,
        )
        .values(verified_by=how, verified_at=now)
    )
    return int(done.rowcount) > 0


def contact_emails(uow: UnitOfWork, vault: Vault, customer_ids: Sequence[str]) -> dict[str, str]:
    """Each customer's first verified email, decrypted now, for mail about their own
    data (a breach notice): a few queries for thousands of customers, not one each.

    A claim is never written to, and neither is an address several customers hold
    as a contact: what is about one of them would reach the others."""
    wanted = list(customer_ids)
    found: dict[str, tuple[str, bytes]] = {}
    for start in range(0, len(wanted), 500):
        rows = uow.connection.execute(
            select(identifiers.c.customer_id, identifiers.c.blind_index, identifiers.c.value)
            .where(
                identifiers.c.kind == "email",
                identifiers.c.verified_by.is_not(None),
                identifiers.c.customer_id.in_(wanted[start : start + 500]),
            )
            .order_by(identifiers.c.id)
        )
        for customer_id, index, sealed in rows:
            found.setdefault(customer_id, (index, sealed))
    indexes = sorted({index for index, _ in found.values()})
    shared: set[str] = set()
    for start in range(0, len(indexes), 500):
        shared.update(
            uow.connection.execute(
                select(identifiers.c.blind_index)
                .where(
                    identifiers.c.kind == "email",
                    identifiers.c.verified_by.is_not(None),
                    identifiers.c.blind_index.in_(indexes[start : start + 500]),
                )
                .group_by(identifiers.c.blind_index)
                .having(func.count(func.distinct(identifiers.c.customer_id)) > 1)
            ).scalars()
        )
    return {
        customer_id: vault.decrypt(customer_id, "identifier", sealed).decode()
        for customer_id, (index, sealed) in found.items()
        if index not in shared
    }


def add_claim(
    uow: UnitOfWork, vault: Vault, customer_id: str, kind: str, value: str, *, now: datetime
) -> int:
    """A customer says an address is theirs: held as a claim (until they prove it),
    once however often they say so. Its handle."""
    if kind == "email" and not looks_like_email(normalise(kind, value)):
        raise InvalidInput("that is not an email address", code="invalid_email")
    row = contact_row(vault, customer_id, kind, value, verified_by=None, now=now)
    record_contacts(uow, [row])
    return int(
        uow.connection.execute(
            select(identifiers.c.id).where(
                identifiers.c.customer_id == customer_id,
                identifiers.c.kind == kind,
                identifiers.c.blind_index == row["blind_index"],
            )
        ).scalar_one()
    )
