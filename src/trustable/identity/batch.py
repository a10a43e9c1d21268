"""Giving each message of a batch its customer: looking identifiers up, attaching new
ones, joining histories as far as the sender may (docs/identity.md).

Two histories are joined only on an explicit statement: an `alias` call, or an
`identify` that carries both an `anonymous_id` and a `user_id`. Nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from trustable.core.ids import new_customer_id
from trustable.identity.kinds import CONTACT_KINDS, SOURCE, Identifier
from trustable.identity.tables import customers, identifiers
from trustable.storage import locks
from trustable.storage.among import among
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_rows
from trustable.vault.service import Vault


@dataclass
class Merge:
    """`loser`'s history was joined into `winner`'s."""

    winner: str
    loser: str


# Why a join was refused: the history to be absorbed already names a user (joining
# two users needs a trusted source), or holds a verified contact.
REFUSED_USER = "join_refused_user_id"
REFUSED_CONTACT = "join_refused_contact"


@dataclass(frozen=True)
class Refusal:
    """A join a public key asked for and did not get: the message went to `customer`,
    `other` kept its own history."""

    customer: str
    other: str
    reason: str


@dataclass
class _Standing:
    """What makes a history more than an anonymous visitor's."""

    user_id: bool = False
    contact: bool = False

    def refusal(self) -> str | None:
        if self.user_id:
            return REFUSED_USER
        if self.contact:
            return REFUSED_CONTACT
        return None


@dataclass
class IdentityBatch:
    """Identity decisions for one batch of messages, written in one go by `flush`.

    `preload` looks every identifier of the batch up with one query; `resolve` and
    `join` then decide in memory, in message order; `flush` creates keys, customers
    and identifiers and reports the merges for the callers to carry out.

    A batch from a public key (`trusted` False) may attach an anonymous history to a
    user, never one user's history to another's, nor a history holding a verified
    contact (docs/identity.md): such joins are refused, the message stays with the
    user it names, and `refusals` says so. A trusted batch vouches for every
    identifier it names.
    """

    uow: UnitOfWork
    vault: Vault
    now: datetime
    trusted: bool = False
    owner: dict[Identifier, str] = field(default_factory=dict)
    # The history each known identifier came from, where it differs from its owner.
    origin: dict[Identifier, str] = field(default_factory=dict)
    _index: dict[Identifier, str] = field(default_factory=dict)
    _parent: dict[str, str] = field(default_factory=dict)
    _standing: dict[str, _Standing] = field(default_factory=dict)
    new_customers: list[str] = field(default_factory=list)
    _new_identifiers: dict[Identifier, str] = field(default_factory=dict)
    vouched: set[Identifier] = field(default_factory=set)
    _unvouched: set[Identifier] = field(default_factory=set)  # known, only claimed so far
    merges: list[Merge] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def blind(self, ident: Identifier) -> str:
        index = self._index.get(ident)
        if index is None:
            index = self.vault.blind_index(*ident)
            self._index[ident] = index
        return index

    def preload(self, wanted: Iterable[Identifier]) -> None:
        """Look every identifier up at once.

        Identifiers nobody holds yet are then locked by name until commit (on
        PostgreSQL) and looked up again: another batch naming the same new person
        at the same moment either made them already (found now) or waits until this
        one commits and then finds them. Without the lock both would make a customer
        for the same person and one would fail on the unique index. Only new
        identifiers are locked, so batches about known customers never wait here.
        """
        by_index: dict[tuple[str, str], Identifier] = {}
        for ident in set(wanted):
            by_index[(ident[0], self.blind(ident))] = ident
        self._lookup(by_index)
        new = {key: ident for key, ident in by_index.items() if ident not in self.owner}
        if new and self.uow.dialect == "postgresql":
            locks.hold(self.uow, locks.IDENTIFIERS, (f"{k}:{i}" for k, i in new))
            self._lookup(new)

    def _lookup(self, by_index: dict[tuple[str, str], Identifier]) -> None:
        """Read the holders of these identifiers.

        The query names indexes and kinds as two lists (which the index on
        (blind_index, kind) serves, one probe per identifier) and keeps the exact
        pairs here: a row-value IN makes SQLite scan the whole table.
        """
        kinds = sorted({kind for kind, _ in by_index})
        indexes = sorted({index for _, index in by_index})
        dialect = self.uow.dialect
        for start in range(0, len(indexes), 500):
            chunk = indexes[start : start + 500]
            rows = self.uow.connection.execute(
                select(
                    identifiers.c.kind,
                    identifiers.c.blind_index,
                    identifiers.c.customer_id,
                    identifiers.c.history,
                    identifiers.c.verified_by,
                ).where(
                    among(dialect, identifiers.c.blind_index, chunk),
                    among(dialect, identifiers.c.kind, kinds),
                )
            ).all()
            for kind, index, customer_id, history, verified_by in rows:
                found = by_index.get((kind, index))
                if found is not None:
                    self.owner[found] = customer_id
                    if history is not None:
                        self.origin[found] = history
                    if verified_by is None:
                        self._unvouched.add(found)

    def canonical(self, customer_id: str) -> str:
        while customer_id in self._parent:
            customer_id = self._parent[customer_id]
        return customer_id

    def find(self, ident: Identifier) -> str | None:
        owner = self.owner.get(ident)
        return self.canonical(owner) if owner else None

    def history_of(self, ident: Identifier) -> str | None:
        """The history a message naming `ident` belongs to (its first owner)."""
        return self.origin.get(ident) or self.owner.get(ident)

    def standing(self, customer_id: str) -> _Standing:
        """Whether this history names a user or holds a verified contact (read once
        per batch, then kept up to date as the batch attaches and joins)."""
        customer_id = self.canonical(customer_id)
        known = self._standing.get(customer_id)
        if known is None:  # a customer of the store (new ones get theirs when made)
            rows = self.uow.connection.execute(
                select(identifiers.c.kind, identifiers.c.verified_by).where(
                    identifiers.c.customer_id == customer_id
                )
            ).all()
            known = _Standing(
                user_id=any(kind == "user_id" for kind, _ in rows),
                contact=any(
                    kind in CONTACT_KINDS and verified is not None for kind, verified in rows
                ),
            )
            self._standing[customer_id] = known
        return known

    def _new_customer(self) -> str:
        customer_id = new_customer_id()
        self.new_customers.append(customer_id)
        self._standing[customer_id] = _Standing()
        return customer_id

    def resolve(self, idents: list[Identifier]) -> str:
        """The customer these identifiers name; a new one when none is known.

        Identifiers not yet known are attached to that customer. When they name two
        different customers, the first wins and nothing is joined: joining needs
        `join`. A user id is attached to a known history only when `_refusal`
        allows; otherwise the user starts a history of their own.
        """
        customer_id = next((c for c in map(self.find, idents) if c), None)
        if customer_id is None:
            customer_id = self._new_customer()
        else:
            new_users = [i for i in idents if i[0] == "user_id" and i not in self.owner]
            refused = self._refusal(customer_id) if new_users else None
            if refused is not None:
                known = customer_id
                customer_id = self._new_customer()
                self.refusals.append(Refusal(customer_id, known, refused))
                idents = new_users
        for ident in idents:
            self.attach(customer_id, ident)
        return customer_id

    def _refusal(self, customer_id: str) -> str | None:
        """Why `customer_id`'s history may not be tied to another user on this
        batch's word (None: it may)."""
        if self.trusted:
            return None
        return self.standing(customer_id).refusal()

    def attach(self, customer_id: str, ident: Identifier) -> bool:
        """Give `ident` to `customer_id` if nobody holds it yet; True when attached."""
        if self.trusted:
            self.vouched.add(ident)
        if ident in self.owner:
            return False
        self.owner[ident] = customer_id
        self._new_identifiers[ident] = customer_id
        if ident[0] == "user_id":
            self.standing(customer_id).user_id = True
        return True

    def join(self, keep: Identifier, absorb: Identifier) -> str:
        """Join `absorb`'s customer into `keep`'s (alias, identify with both ids).

        `keep` names a user. On a public key's word the history to absorb must be
        anonymous (see `_refusal`); a refused join leaves it whole and the message
        goes to `keep`'s user."""
        winner = self.find(keep)
        loser = self.find(absorb)
        if winner is None and loser is None:
            return self.resolve([keep, absorb])
        if winner is None:
            assert loser is not None
            return self.resolve([absorb, keep])
        if loser is None:
            self.attach(winner, absorb)
            return winner
        if self.trusted:
            self.vouched.update((keep, absorb))
        if winner != loser:
            refused = self._refusal(loser)
            if refused is not None:
                self.refusals.append(Refusal(winner, loser, refused))
                return winner
            mine, theirs = self.standing(winner), self.standing(loser)
            mine.user_id |= theirs.user_id
            mine.contact |= theirs.contact
            self._parent[loser] = winner
            self.merges.append(Merge(winner=winner, loser=loser))
        return winner

    def flush(self) -> list[Merge]:
        """Write what was decided; return the merges still to be carried out."""
        if self.trusted or self.merges:
            # Vouching for identifiers (here or in `record_contacts`) and joining
            # histories update identifiers after this batch's inserts.
            locks.hold_reference_writes(self.uow)
        if self.new_customers:
            self.vault.create_keys(self.new_customers)
            insert_rows(
                self.uow,
                customers,
                [
                    {"customer_id": c, "created_at": self.now, "merged_into": None}
                    for c in self.new_customers
                ],
            )
        rows = []
        for ident, owner in self._new_identifiers.items():
            customer_id = self.canonical(owner)
            vouched = ident in self.vouched
            rows.append(
                {
                    "customer_id": customer_id,
                    "kind": ident[0],
                    "blind_index": self.blind(ident),
                    "value": self.vault.encrypt(customer_id, "identifier", ident[1].encode()),
                    "created_at": self.now,
                    "verified_by": SOURCE if vouched else None,
                    "verified_at": self.now if vouched else None,
                    # Attached to a history joined in this very batch: still its own.
                    "history": owner if owner != customer_id else None,
                }
            )
        insert_rows(self.uow, identifiers, rows)
        self._vouch_known()
        # Merges among customers made in this very batch still need their rows moved.
        return [Merge(self.canonical(m.winner), m.loser) for m in self.merges]

    def _vouch_known(self) -> None:
        """A trusted source named identifiers a public key sent first: now vouched."""
        promoted = self.vouched & self._unvouched
        known = sorted(self.blind(i) for i in promoted)
        kinds = sorted({i[0] for i in promoted})
        for start in range(0, len(known), 500):
            self.uow.connection.execute(
                update(identifiers)
                .where(
                    identifiers.c.kind.in_(kinds),
                    identifiers.c.blind_index.in_(known[start : start + 500]),
                    identifiers.c.verified_by.is_(None),
                )
                .values(verified_by=SOURCE, verified_at=self.now)
            )
