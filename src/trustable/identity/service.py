"""Resolving identifiers to customers, deterministically.

Two histories are joined only on an explicit statement: an `alias` call, or an
`identify` that carries both an `anonymous_id` and a `user_id`. Nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from trustable.core.errors import NotFound, TrustableError
from trustable.core.ids import new_customer_id, new_id
from trustable.identity.tables import customers, identifiers, merges
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import upsert
from trustable.vault.service import Vault

IDENTIFIER_KINDS = ("user_id", "anonymous_id", "email", "phone", "device_id")
CONTACT_KINDS = ("email", "phone")  # what Trustable may sign a customer in with or write to
SOURCE = "source"  # vouched for by a trusted source (a `collect:server` key)
PROOF = "proof"  # the customer proved control (a code sent to the address)
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
                    identifiers.c.kind,
                    identifiers.c.blind_index,
                    identifiers.c.customer_id,
                    identifiers.c.history,
                    identifiers.c.verified_by,
                ).where(identifiers.c.kind.in_(kinds), identifiers.c.blind_index.in_(chunk))
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
        if known is None:
            known = _Standing()
            if customer_id not in self.new_customers:
                rows = self.uow.connection.execute(
                    select(identifiers.c.kind, identifiers.c.verified_by).where(
                        identifiers.c.customer_id == customer_id
                    )
                ).all()
                known.user_id = any(kind == "user_id" for kind, _ in rows)
                known.contact = any(
                    kind in CONTACT_KINDS and verified is not None for kind, verified in rows
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
        if rows:
            conn.execute(insert(identifiers), rows)
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


def move_identifiers(uow: UnitOfWork, vault: Vault, winner: str, loser: str) -> None:
    """Re-seal `loser`'s identifiers under `winner`'s key and give them to `winner`,
    each remembering the history it came from.

    An address both hold is kept once, vouched if either was."""
    conn = uow.connection
    mine = {
        (r.kind, r.blind_index): r
        for r in conn.execute(
            select(
                identifiers.c.id,
                identifiers.c.kind,
                identifiers.c.blind_index,
                identifiers.c.verified_by,
            ).where(identifiers.c.customer_id == winner)
        )
    }
    rows = conn.execute(select(identifiers).where(identifiers.c.customer_id == loser)).all()
    for row in rows:
        same = mine.get((row.kind, row.blind_index))
        if same is not None:
            if same.verified_by is None and row.verified_by is not None:
                conn.execute(
                    update(identifiers)
                    .where(identifiers.c.id == same.id)
                    .values(verified_by=row.verified_by, verified_at=row.verified_at)
                )
            conn.execute(delete(identifiers).where(identifiers.c.id == row.id))
            continue
        plain = vault.decrypt(loser, "identifier", row.value)
        conn.execute(
            update(identifiers)
            .where(identifiers.c.id == row.id)
            .values(
                customer_id=winner,
                value=vault.encrypt(winner, "identifier", plain),
                history=row.history or loser,
            )
        )


def return_identifiers(
    uow: UnitOfWork, vault: Vault, *, holder: str, to: str, histories: Sequence[str]
) -> int:
    """Undoing a merge: the identifiers that came from `histories` go back to `to`,
    sealed under its key again. How many moved."""
    conn = uow.connection
    rows = conn.execute(
        select(identifiers.c.id, identifiers.c.value, identifiers.c.history).where(
            identifiers.c.customer_id == holder, identifiers.c.history.in_(list(histories))
        )
    ).all()
    for row in rows:
        plain = vault.decrypt(holder, "identifier", row.value)
        conn.execute(
            update(identifiers)
            .where(identifiers.c.id == row.id)
            .values(
                customer_id=to,
                value=vault.encrypt(to, "identifier", plain),
                history=None if row.history == to else row.history,
            )
        )
    return len(rows)


def mark_merged(uow: UnitOfWork, winner: str, loser: str) -> None:
    uow.connection.execute(
        update(customers).where(customers.c.customer_id == loser).values(merged_into=winner)
    )


@dataclass(frozen=True)
class MergeRecord:
    """One join of two histories, as the privacy team sees it: ids, never values."""

    merge_id: str
    winner: str
    loser: str
    merged_at: datetime
    actor: str
    undone_at: datetime | None
    undone_by: str | None


def record_merge(uow: UnitOfWork, *, winner: str, loser: str, actor: str, now: datetime) -> str:
    merge_id = new_id("mrg")
    uow.connection.execute(
        insert(merges).values(
            merge_id=merge_id, customer_id=winner, absorbed=loser, merged_at=now, actor=actor
        )
    )
    return merge_id


def _merge_record(row: Any) -> MergeRecord:
    return MergeRecord(
        merge_id=row.merge_id,
        winner=row.customer_id,
        loser=row.absorbed,
        merged_at=row.merged_at,
        actor=row.actor,
        undone_at=row.undone_at,
        undone_by=row.undone_by,
    )


def get_merge(uow: UnitOfWork, merge_id: str) -> MergeRecord | None:
    row = uow.connection.execute(select(merges).where(merges.c.merge_id == merge_id)).first()
    return None if row is None else _merge_record(row)


def list_merges(
    uow: UnitOfWork, *, customer_id: str | None = None, limit: int = 100
) -> list[MergeRecord]:
    """The newest joins first; with `customer_id`, those it took part in."""
    stmt = select(merges).order_by(merges.c.merged_at.desc(), merges.c.merge_id).limit(limit)
    if customer_id is not None:
        stmt = stmt.where(
            (merges.c.customer_id == customer_id) | (merges.c.absorbed == customer_id)
        )
    return [_merge_record(row) for row in uow.connection.execute(stmt)]


def absorbed_histories(uow: UnitOfWork, customer_id: str) -> list[str]:
    """`customer_id` and every history joined into it, and into those, still joined."""
    found = [customer_id]
    frontier = [customer_id]
    while frontier:
        frontier = list(
            uow.connection.execute(
                select(customers.c.customer_id).where(customers.c.merged_into.in_(frontier))
            ).scalars()
        )
        found.extend(frontier)
    return found


def mark_unmerged(
    uow: UnitOfWork, merge_id: str, customer_id: str, *, actor: str, now: datetime
) -> None:
    uow.connection.execute(
        update(customers).where(customers.c.customer_id == customer_id).values(merged_into=None)
    )
    uow.connection.execute(
        update(merges).where(merges.c.merge_id == merge_id).values(undone_at=now, undone_by=actor)
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
        key = (row["customer_id"], row["kind"], row["blind_index"])
        if key not in unique or row["verified_by"] is not None:
            unique[key] = row
    ordered = [unique[key] for key in sorted(unique)]
    upsert(
        uow, identifiers, ordered, keys=("customer_id", "kind", "blind_index"), update=_keep_vouched
    )


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


def vouch(uow: UnitOfWork, customer_id: str, handle: int, *, how: str, now: datetime) -> str:
    """Mark one of a customer's identifiers as vouched for (`how`: SOURCE or PROOF);
    its kind. `NotFound` unless it is theirs."""
    row = uow.connection.execute(
        select(identifiers.c.kind).where(
            identifiers.c.id == handle, identifiers.c.customer_id == customer_id
        )
    ).first()
    if row is None:
        raise NotFound("no such identifier of yours", code="unknown_identifier")
    uow.connection.execute(
        update(identifiers)
        .where(identifiers.c.id == handle)
        .values(verified_by=how, verified_at=now)
    )
    return str(row.kind)


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
