"""Customers and their identifiers: finding a customer by one, listing, correcting
and unlinking them, erasing them with the customer.

Who may attach or join what is decided in `batch`; which addresses are contacts in
`contacts`; the record of joins in `merges` (docs/identity.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, update

from trustable.core.errors import NotFound, TrustableError
from trustable.identity.contacts import contact_holders, find_contact
from trustable.identity.kinds import CONTACT_KINDS, Identifier, normalise
from trustable.identity.tables import customers, identifiers
from trustable.storage.among import among
from trustable.storage.citus import by_shard
from trustable.storage.failures import ConcurrentChange
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

# Built once: every read of a customer by id starts with it.
_MERGED_INTO = select(customers.c.merged_into).where(
    customers.c.customer_id == bindparam("customer_id")
)


def customer_exists(uow: UnitOfWork, customer_id: str) -> str | None:
    """The live customer id for `customer_id` (following merges), or None."""
    seen = 0
    current: str | None = customer_id
    while current is not None and seen < 16:
        row = uow.connection.execute(_MERGED_INTO, {"customer_id": current}).first()
        if row is None:
            return None
        if row[0] is None:
            return current
        current = row[0]
        seen += 1
    return None


def known_customers(uow: UnitOfWork, customer_ids: Iterable[str]) -> set[str]:
    """Those of `customer_ids` that are more than an anonymous visitor: their history
    names a user id or holds a contact (docs/identity.md). A public key's word never
    widens what such a customer allows."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return set()
    known: set[str] = set()
    for start in range(0, len(wanted), 500):
        rows = uow.connection.execute(
            select(identifiers.c.customer_id)
            .where(
                among(uow.dialect, identifiers.c.customer_id, wanted[start : start + 500]),
                (identifiers.c.kind == "user_id")
                | (identifiers.c.kind.in_(CONTACT_KINDS) & identifiers.c.verified_by.is_not(None)),
            )
            .distinct()
        )
        known.update(row[0] for row in rows)
    return known


def list_identifiers(uow: UnitOfWork, vault: Vault, customer_id: str) -> list[Identifier]:
    rows = uow.connection.execute(
        select(identifiers.c.kind, identifiers.c.value)
        .where(identifiers.c.customer_id == customer_id)
        .order_by(identifiers.c.id)
    ).all()
    return [
        (kind, vault.decrypt(customer_id, "identifier", value).decode()) for kind, value in rows
    ]


def customers_after(uow: UnitOfWork, after: str, limit: int) -> list[str]:
    """The next `limit` customer ids after `after`, in id order, joined histories left
    out: how work over every customer (retention, aggregates, risk) pages through them."""
    return list(
        uow.connection.execute(
            select(customers.c.customer_id)
            .where(customers.c.customer_id > after, customers.c.merged_into.is_(None))
            .order_by(customers.c.customer_id)
            .limit(limit)
        ).scalars()
    )


def count_customers(uow: UnitOfWork) -> int:
    return int(
        uow.connection.execute(
            select(func.count()).select_from(customers).where(customers.c.merged_into.is_(None))
        ).scalar_one()
    )


def find_customer(uow: UnitOfWork, vault: Vault, kind: str, value: str) -> str | None:
    """The customer holding this identifier, through the blind index.

    An email or phone finds only a verified contact (`find_contact`): a claim a
    public key made names nobody."""
    if kind in CONTACT_KINDS:
        return find_contact(uow, vault, kind, value)
    index = vault.blind_index(kind, normalise(kind, value))
    row = uow.connection.execute(
        select(identifiers.c.customer_id).where(
            identifiers.c.kind == kind, identifiers.c.blind_index == index
        )
    ).first()
    return None if row is None else str(row[0])


class ConcurrentErasure(ConcurrentChange):
    """A customer this work was about was erased while it ran: it starts over."""

    code = "concurrent_erasure"


def hold_customers(uow: UnitOfWork, customer_ids: Iterable[str], *, exclusive: bool) -> None:
    """Make sure these customers are still live, and stay so until commit.

    The decisions of a batch (which customer each message goes to, which histories
    to join) were made from identifiers read before this point; another batch may
    since have joined one of these histories into another, or an erasure removed it.
    On PostgreSQL a row lock on each customer (taken in id order, so two batches
    never wait for each other in a circle) makes such work wait for this one, or
    lets this one see the change, and then it is refused as a whole
    (`ConcurrentErasure`, `ConcurrentChange`) and started over from the top, where
    it finds the customers as they now are. `exclusive` when the batch joins
    histories itself: then no other batch may write to them until it commits.
    SQLite has one writer at a time: nothing can change under the batch.
    """
    if uow.dialect != "postgresql":
        return
    wanted = sorted(set(customer_ids))
    found: dict[str, str | None] = {}
    # Citus locks rows only in statements confined to one shard: one per shard.
    chunks = (
        by_shard(uow.connection, wanted)
        if uow.distributed
        else [wanted[start : start + 500] for start in range(0, len(wanted), 500)]
    )
    for chunk in chunks:
        stmt = (
            select(customers.c.customer_id, customers.c.merged_into)
            .where(among(uow.dialect, customers.c.customer_id, chunk))
            .order_by(customers.c.customer_id)
        )
        stmt = (
            stmt.with_for_update(key_share=True) if exclusive else stmt.with_for_update(read=True)
        )
        found.update((c, m) for c, m in uow.connection.execute(stmt).all())
    if len(found) != len(wanted):
        raise ConcurrentErasure("a customer in this batch was erased meanwhile; send it again")
    if any(merged is not None for merged in found.values()):
        raise ConcurrentChange("a history in this batch was joined into another meanwhile")


def erase_identity(uow: UnitOfWork, customer_id: str) -> tuple[list[str], dict[str, int]]:
    """Delete a customer, the customers once joined into them, and their identifiers.

    Locks the row first, so collection for this customer running at the same time
    waits or starts over. Returns every customer id removed (their data keys must be
    destroyed too) and the counts of rows deleted.
    """
    conn = uow.connection
    lock = select(customers.c.customer_id).where(customers.c.customer_id == customer_id)
    if uow.dialect == "postgresql":
        lock = lock.with_for_update()
    conn.execute(lock).first()
    removed = [customer_id]
    frontier = [customer_id]
    while frontier:  # those joined into them, and those joined into those
        frontier = list(
            conn.execute(
                select(customers.c.customer_id).where(customers.c.merged_into.in_(frontier))
            ).scalars()
        )
        removed.extend(frontier)
    ids = conn.execute(delete(identifiers).where(identifiers.c.customer_id == customer_id))
    gone = conn.execute(delete(customers).where(customers.c.customer_id.in_(removed)))
    return removed, {"identifiers": int(ids.rowcount), "customers": int(gone.rowcount)}


def replace_identifier(
    uow: UnitOfWork, vault: Vault, customer_id: str, kind: str, value: str, *, now: datetime
) -> str:
    """Correct a customer's email or phone in place (the old value is not kept):
    "replaced", "missing" (they hold none of that kind) or "taken" (it is another
    customer's verified contact, so it cannot be theirs too).

    The corrected address is a claim until the customer proves it (a code sent to
    it from the portal): saying an address is yours does not make it so."""
    new_value = normalise(kind, value)
    index = vault.blind_index(kind, new_value)
    if any(h != customer_id for h in contact_holders(uow, vault, kind, new_value)):
        return "taken"
    rows = uow.connection.execute(
        select(identifiers.c.id, identifiers.c.blind_index)
        .where(identifiers.c.customer_id == customer_id, identifiers.c.kind == kind)
        .order_by(identifiers.c.id)
    ).all()
    if not rows:
        return "missing"
    mine = rows[0]
    if mine.blind_index == index:
        return "replaced"
    if any(r.blind_index == index for r in rows):  # they hold the new one already
        uow.connection.execute(delete(identifiers).where(identifiers.c.id == mine.id))
        return "replaced"
    uow.connection.execute(
        update(identifiers)
        .where(identifiers.c.id == mine.id)
        .values(
            blind_index=index,
            value=vault.encrypt(customer_id, "identifier", new_value.encode()),
            created_at=now,
            verified_by=None,
            verified_at=None,
        )
    )
    return "replaced"


@dataclass(frozen=True)
class Linked:
    handle: int  # what a form names to unlink it, so no value travels in the form
    kind: str
    value: str
    verified_by: str | None = None  # SOURCE, PROOF, or None: a claim
    verified_at: datetime | None = None

    @property
    def contact(self) -> bool:
        """Something Trustable may sign this customer in with or write to."""
        return self.kind in CONTACT_KINDS and self.verified_by is not None


def linked_identifiers(uow: UnitOfWork, vault: Vault, customer_id: str) -> list[Linked]:
    """Every identifier joined into this customer, with its handle and how it was
    verified."""
    rows = uow.connection.execute(
        select(
            identifiers.c.id,
            identifiers.c.kind,
            identifiers.c.value,
            identifiers.c.verified_by,
            identifiers.c.verified_at,
        )
        .where(identifiers.c.customer_id == customer_id)
        .order_by(identifiers.c.id)
    ).all()
    opener = vault.opener(customer_id)
    return [
        Linked(
            int(r.id),
            r.kind,
            opener("identifier", r.value).decode(),
            r.verified_by,
            r.verified_at,
        )
        for r in rows
    ]


class LastIdentifier(TrustableError):
    code = "last_identifier"
    status = 409


def unlink_identifier(uow: UnitOfWork, customer_id: str, handle: int) -> str:
    """Detach one identifier from a customer: what arrives under it later starts a
    history of its own. Their last identifier stays (erasure is for leaving whole).
    The kind unlinked; `NotFound` unless the identifier is this customer's."""
    mine = {
        int(r.id): str(r.kind)
        for r in uow.connection.execute(
            select(identifiers.c.id, identifiers.c.kind).where(
                identifiers.c.customer_id == customer_id
            )
        )
    }
    if handle not in mine:
        raise NotFound("no such identifier of yours", code="unknown_identifier")
    if len(mine) == 1:
        raise LastIdentifier(
            "this is the only way we recognise you: to leave, ask for erasure instead"
        )
    uow.connection.execute(
        delete(identifiers).where(
            identifiers.c.id == handle, identifiers.c.customer_id == customer_id
        )
    )
    return mine[handle]
