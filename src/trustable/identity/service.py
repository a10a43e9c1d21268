"""Resolving identifiers to customers, deterministically.

Two histories are joined only on an explicit statement: an `alias` call, or an
`identify` that carries both an `anonymous_id` and a `user_id`. Nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update

from trustable.core.errors import NotFound, TrustableError
from trustable.core.ids import new_customer_id
from trustable.identity.tables import customers, identifiers
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

IDENTIFIER_KINDS = ("user_id", "anonymous_id", "email", "phone", "device_id")
_PHONE_NOISE = re.compile(r"[\s().-]")

Identifier = tuple[str, str]  # (kind, normalised value)


def normalise(kind: str, value: object) -> str:
    """One spelling per identifier, so the blind index finds it whatever the casing."""
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    if kind == "email":
        return text.lower()
    if kind == "phone":
        return _PHONE_NOISE.sub("", text)
    return text


@dataclass
class Merge:
    """`loser`'s history was joined into `winner`'s."""

    winner: str
    loser: str


@dataclass
class IdentityBatch:
    """Identity decisions for one batch of messages, written in one go by `flush`.

    `preload` looks every identifier of the batch up with one query; `resolve` and
    `join` then decide in memory, in message order; `flush` creates keys, customers
    and identifiers and reports the merges for the callers to carry out.
    """

    uow: UnitOfWork
    vault: Vault
    now: datetime
    owner: dict[Identifier, str] = field(default_factory=dict)
    _index: dict[Identifier, str] = field(default_factory=dict)
    _parent: dict[str, str] = field(default_factory=dict)
    new_customers: list[str] = field(default_factory=list)
    _new_identifiers: dict[Identifier, str] = field(default_factory=dict)
    merges: list[Merge] = field(default_factory=list)

    def blind(self, ident: Identifier) -> str:
        index = self._index.get(ident)
        if index is None:
            index = self.vault.blind_index(*ident)
            self._index[ident] = index
        return index

    def preload(self, wanted: Iterable[Identifier]) -> None:
        """Look every identifier up at once.

        The query names kinds and indexes as two IN lists (which the unique index on
        (kind, blind_index) serves) and keeps the exact pairs here: a row-value IN
        makes SQLite scan the whole table.
        """
        by_index: dict[tuple[str, str], Identifier] = {}
        for ident in set(wanted):
            by_index[(ident[0], self.blind(ident))] = ident
        kinds = sorted({kind for kind, _ in by_index})
        indexes = sorted({index for _, index in by_index})
        for start in range(0, len(indexes), 500):
            chunk = indexes[start : start + 500]
            rows = self.uow.connection.execute(
                select(
                    identifiers.c.kind, identifiers.c.blind_index, identifiers.c.customer_id
                ).where(identifiers.c.kind.in_(kinds), identifiers.c.blind_index.in_(chunk))
            ).all()
            for kind, index, customer_id in rows:
                found = by_index.get((kind, index))
                if found is not None:
                    self.owner[found] = customer_id

    def canonical(self, customer_id: str) -> str:
        while customer_id in self._parent:
            customer_id = self._parent[customer_id]
        return customer_id

    def find(self, ident: Identifier) -> str | None:
        owner = self.owner.get(ident)
        return self.canonical(owner) if owner else None

    def resolve(self, idents: list[Identifier]) -> str:
        """The customer these identifiers name; a new one when none is known.

        Identifiers not yet known are attached to that customer. When they name two
        different customers, the first wins and nothing is joined: joining needs
        `join`.
        """
        customer_id = next((c for c in map(self.find, idents) if c), None)
        if customer_id is None:
            customer_id = new_customer_id()
            self.new_customers.append(customer_id)
        for ident in idents:
            self.attach(customer_id, ident)
        return customer_id

    def attach(self, customer_id: str, ident: Identifier) -> bool:
        """Give `ident` to `customer_id` if nobody holds it yet; True when attached."""
        if ident in self.owner:
            return False
        self.owner[ident] = customer_id
        self._new_identifiers[ident] = customer_id
        return True

    def join(self, keep: Identifier, absorb: Identifier) -> str:
        """Join `absorb`'s customer into `keep`'s (alias, identify with both ids)."""
        winner = self.find(keep)
        loser = self.find(absorb)
        if winner is None and loser is None:
            return self.resolve([keep, absorb])
        if winner is None:
            assert loser is not None
            self.attach(loser, keep)
            return loser
        if loser is None:
            self.attach(winner, absorb)
            return winner
        if winner != loser:
            self._parent[loser] = winner
            self.merges.append(Merge(winner=winner, loser=loser))
        return winner

    def flush(self) -> list[Merge]:
        """Write what was decided; return the merges still to be carried out."""
        conn = self.uow.connection
        if self.new_customers:
            self.vault.create_keys(self.new_customers)
            conn.execute(
                insert(customers),
                [
                    {"customer_id": c, "created_at": self.now, "merged_into": None}
                    for c in self.new_customers
                ],
            )
        rows = []
        for ident, owner in self._new_identifiers.items():
            customer_id = self.canonical(owner)
            rows.append(
                {
                    "customer_id": customer_id,
                    "kind": ident[0],
                    "blind_index": self.blind(ident),
                    "value": self.vault.encrypt(customer_id, "identifier", ident[1].encode()),
                    "created_at": self.now,
                }
            )
        if rows:
            conn.execute(insert(identifiers), rows)
        # Merges among customers made in this very batch still need their rows moved.
        return [Merge(self.canonical(m.winner), m.loser) for m in self.merges]


def move_identifiers(uow: UnitOfWork, vault: Vault, winner: str, loser: str) -> None:
    """Re-seal `loser`'s identifiers under `winner`'s key and give them to `winner`."""
    conn = uow.connection
    rows = conn.execute(
        select(identifiers.c.id, identifiers.c.value).where(identifiers.c.customer_id == loser)
    ).all()
    for row_id, value in rows:
        plain = vault.decrypt(loser, "identifier", value)
        conn.execute(
            update(identifiers)
            .where(identifiers.c.id == row_id)
            .values(customer_id=winner, value=vault.encrypt(winner, "identifier", plain))
        )


def mark_merged(uow: UnitOfWork, winner: str, loser: str) -> None:
    uow.connection.execute(
        update(customers).where(customers.c.customer_id == loser).values(merged_into=winner)
    )


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
    from sqlalchemy import func

    return int(
        uow.connection.execute(
            select(func.count()).select_from(customers).where(customers.c.merged_into.is_(None))
        ).scalar_one()
    )


def find_customer(uow: UnitOfWork, vault: Vault, kind: str, value: str) -> str | None:
    """The customer holding this identifier, through the blind index."""
    index = vault.blind_index(kind, normalise(kind, value))
    row = uow.connection.execute(
        select(identifiers.c.customer_id).where(
            identifiers.c.kind == kind, identifiers.c.blind_index == index
        )
    ).first()
    return None if row is None else str(row[0])


class ConcurrentErasure(TrustableError):
    """A customer this work was about was erased while it ran: it starts over."""

    code = "concurrent_erasure"
    status = 503


def guard_against_erasure(uow: UnitOfWork, customer_ids: Iterable[str]) -> None:
    """Make sure none of these customers is being or was just erased, until commit.

    On PostgreSQL a shared row lock (FOR SHARE) makes an erasure running at the same
    time wait for this transaction, or lets this one see the customer is gone, and
    then it is refused as a whole (the client retries; the identifiers are gone, so
    it lands on a new customer). SQLite has one writer at a time: an erasure cannot
    run inside this unit of work, so there is nothing to check.
    """
    if uow.dialect != "postgresql":
        return
    wanted = sorted(set(customer_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        stmt = (
            select(customers.c.customer_id)
            .where(customers.c.customer_id.in_(wanted[start : start + 500]))
            .with_for_update(read=True)
        )
        found.update(uow.connection.execute(stmt).scalars())
    if len(found) != len(wanted):
        raise ConcurrentErasure("a customer in this batch was erased meanwhile; send it again")


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
    """Correct a customer's identifier of `kind` in place (the old value is not kept):
    "replaced", "missing" (they hold none of that kind) or "taken" (another
    customer holds the new value, so it cannot be theirs too)."""
    new_value = normalise(kind, value)
    index = vault.blind_index(kind, new_value)
    holder = find_customer(uow, vault, kind, new_value)
    if holder is not None and holder != customer_id:
        return "taken"
    mine = uow.connection.execute(
        select(identifiers.c.id)
        .where(identifiers.c.customer_id == customer_id, identifiers.c.kind == kind)
        .order_by(identifiers.c.id)
    ).first()
    if mine is None:
        return "missing"
    uow.connection.execute(
        update(identifiers)
        .where(identifiers.c.id == mine.id)
        .values(
            blind_index=index,
            value=vault.encrypt(customer_id, "identifier", new_value.encode()),
            created_at=now,
        )
    )
    return "replaced"


@dataclass(frozen=True)
class Linked:
    handle: int  # what a form names to unlink it, so no value travels in the form
    kind: str
    value: str


def linked_identifiers(uow: UnitOfWork, vault: Vault, customer_id: str) -> list[Linked]:
    """Every identifier joined into this customer, with its handle."""
    rows = uow.connection.execute(
        select(identifiers.c.id, identifiers.c.kind, identifiers.c.value)
        .where(identifiers.c.customer_id == customer_id)
        .order_by(identifiers.c.id)
    ).all()
    opener = vault.opener(customer_id)
    return [Linked(int(r.id), r.kind, opener("identifier", r.value).decode()) for r in rows]


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
