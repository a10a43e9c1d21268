"""Resolving identifiers to customers, deterministically.

Two histories are joined only on an explicit statement: an `alias` call, or an
`identify` that carries both an `anonymous_id` and a `user_id`. Nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update

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


def customer_exists(uow: UnitOfWork, customer_id: str) -> str | None:
    """The live customer id for `customer_id` (following merges), or None."""
    seen = 0
    current: str | None = customer_id
    while current is not None and seen < 16:
        row = uow.connection.execute(
            select(customers.c.merged_into).where(customers.c.customer_id == current)
        ).first()
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
