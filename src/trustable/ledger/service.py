"""Appending to the ledger, signing tree heads, proving and verifying.

Every write path calls `append` inside its own unit of work, last, so the entry and
the work it records commit together. Appending takes the tree size under a lock
(a row lock on PostgreSQL; SQLite has one writer anyway), writes the entries and the
perfect subtrees they complete, and touches O(log n) stored nodes however large the
log has grown. The encoding is specified in docs/ledger.md.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import bindparam, case, func, select, update

from trustable.core.errors import InvalidInput, NotFound, TrustableError
from trustable.ledger import merkle
from trustable.ledger.merkle import Node
from trustable.ledger.tables import ledger_entries, ledger_heads, ledger_nodes, ledger_state
from trustable.storage.bulk import bulk_insert
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_ignoring_conflicts
from trustable.vault.service import Vault

FORMAT_VERSION = 1
HEAD_ORIGIN = "trustable.ledger/v1"
# Interior nodes are stored from this level up (subtrees of 16 entries and larger);
# smaller ones are recomputed from at most 8 leaf hashes when a proof needs them, so
# an append writes one node row per 16 entries instead of one per entry.
STORED_FROM = 4
MAX_INDEX = 2**62


@dataclass(frozen=True)
class Record:
    """What happened, before it gets its index: no personal values, ever."""

    kind: str
    customer_id: str | None
    actor: str
    detail: dict[str, Any] = field(default_factory=dict)
    # The history it is about when that history was joined into `customer_id`'s
    # (see identity.tables): what undoing the join gives back. Not in the hashed body.
    history: str | None = None


@dataclass(frozen=True)
class SignedHead:
    size: int
    root: bytes
    signed_at: datetime
    signature: bytes

    def message(self) -> bytes:
        return head_message(self.size, self.root, self.signed_at)


@dataclass(frozen=True)
class StoredEntry:
    index: int
    kind: str
    body: bytes
    leaf_hash: bytes

    def content(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: `2026-11-23T09:30:00.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode(value: dict[str, Any]) -> bytes:
    """The canonical bytes of an entry: JSON, keys sorted, no spaces, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def head_message(size: int, root: bytes, signed_at: datetime) -> bytes:
    """What a tree head's Ed25519 signature covers (four lines, each ending in \\n)."""
    text = f"{HEAD_ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n{stamp(signed_at)}\n"
    return text.encode("ascii")


# -- reading the tree -------------------------------------------------------------


def tree_size(uow: UnitOfWork) -> int:
    return int(uow.connection.execute(select(ledger_state.c.size)).scalar_one())


def _leaf_hashes(uow: UnitOfWork, indexes: Iterable[int]) -> dict[int, bytes]:
    wanted = sorted(set(indexes))
    found: dict[int, bytes] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = uow.connection.execute(
            select(ledger_entries.c.idx, ledger_entries.c.leaf_hash).where(
                ledger_entries.c.idx.in_(chunk)
            )
        )
        found.update((idx, digest) for idx, digest in rows)
    return found


def _nodes(uow: UnitOfWork, wanted: Iterable[Node]) -> dict[Node, bytes]:
    """Perfect subtrees: from the stored nodes at `STORED_FROM` and above, from the
    leaf hashes below (at most 2^(STORED_FROM - 1) leaves each)."""
    wanted = set(wanted)
    low = [node for node in wanted if node[0] < STORED_FROM]
    leaves = _leaf_hashes(
        uow, (i for level, idx in low for i in range(idx << level, (idx + 1) << level))
    )
    found: dict[Node, bytes] = {}
    for level, idx in low:
        span = range(idx << level, (idx + 1) << level)
        if all(i in leaves for i in span):
            found[(level, idx)] = merkle.root_of([leaves[i] for i in span])
    found.update(_stored_nodes(uow, (node for node in wanted if node[0] >= STORED_FROM)))
    missing = wanted - set(found)
    if missing:
        raise LedgerDamaged(f"the ledger is missing {len(missing)} stored node(s)")
    return {node: found[node] for node in wanted}


class LedgerDamaged(TrustableError):
    """Stored nodes a proof needs are gone: `trustable ledger verify` says more."""

    code = "ledger_damaged"
    status = 500


def _stored_nodes(uow: UnitOfWork, wanted: Iterable[Node]) -> dict[Node, bytes]:
    """Interior nodes as stored (missing ones are simply absent), in one query.

    `(level = ? AND idx = ?) OR …` in plain SQL: SQLite answers it with one probe of
    the primary key per node, where a row-value IN scans the table and a range per
    level reads every node between the extremes.
    """
    nodes = sorted(set(wanted))
    found: dict[Node, bytes] = {}
    mark = "?" if uow.connection.dialect.paramstyle == "qmark" else "%s"
    for start in range(0, len(nodes), 200):
        chunk = nodes[start : start + 200]
        condition = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(chunk))
        params = tuple(value for node in chunk for value in node)
        rows = uow.connection.exec_driver_sql(
            f"SELECT level, idx, hash FROM ledger_nodes WHERE {condition}", params
        )
        found.update(((level, idx), bytes(digest)) for level, idx, digest in rows)
    return found


def _source(uow: UnitOfWork) -> merkle.NodeSource:
    return lambda wanted: _nodes(uow, wanted)


def _frontier(uow: UnitOfWork, size: int) -> dict[int, bytes]:
    """The right edge of a tree of `size` leaves: one perfect subtree per set bit."""
    parts = merkle.perfect_parts(0, size) if size else []
    nodes = _nodes(uow, parts)
    return {level: nodes[(level, idx)] for level, idx in parts}


def root_at(uow: UnitOfWork, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    return merkle.range_hash(0, size, _nodes(uow, merkle.perfect_parts(0, size)))


# -- appending -------------------------------------------------------------------


# Built once: the append path runs them for every collected batch.
_STATE = select(ledger_state.c.size, ledger_state.c.frontier).where(ledger_state.c.id == 1)
_STATE_LOCKED = _STATE.with_for_update()
_ENTRY_COLUMNS = ("idx", "kind", "body", "leaf_hash", "customer_id", "history")
_NODE_COLUMNS = ("level", "idx", "hash")
_UPDATE_STATE = (
    update(ledger_state)
    .where(ledger_state.c.id == 1)
    .values(size=bindparam("new_size"), frontier=bindparam("new_frontier"))
)


def pack_frontier(frontier: dict[int, bytes]) -> bytes:
    """The right edge as bytes: per perfect subtree, one level byte and its hash."""
    return b"".join(bytes([level]) + digest for level, digest in sorted(frontier.items()))


def unpack_frontier(packed: bytes) -> dict[int, bytes]:
    return {packed[i]: packed[i + 1 : i + 33] for i in range(0, len(packed), 33)}


def _locked_state(uow: UnitOfWork) -> tuple[int, dict[int, bytes]]:
    """The tree size and its right edge, locked until commit (PostgreSQL: FOR UPDATE;
    SQLite's writer already holds the database)."""
    stmt = _STATE_LOCKED if uow.dialect == "postgresql" else _STATE
    size, packed = uow.connection.execute(stmt).one()
    if packed is None:  # a log written before the edge was kept beside the size
        return int(size), _frontier(uow, int(size))
    return int(size), unpack_frontier(packed)


def append(uow: UnitOfWork, vault: Vault, records: Sequence[Record], *, now: datetime) -> list[int]:
    """Give each record the next index and write it; return the indices.

    Call it last in the unit of work: the size lock is held until commit.
    """
    if not records:
        return []
    size, frontier = _locked_state(uow)
    at = stamp(now)
    entry_rows: list[tuple[Any, ...]] = []
    node_rows: list[tuple[int, int, bytes]] = []
    for offset, record in enumerate(records):
        index = size + offset
        body = encode(
            {
                "v": FORMAT_VERSION,
                "i": index,
                "at": at,
                "kind": record.kind,
                "subject": vault.pseudonym(record.customer_id) if record.customer_id else None,
                "actor": record.actor,
                "detail": record.detail,
            }
        )
        digest = merkle.leaf_hash(body)
        entry_rows.append((index, record.kind, body, digest, record.customer_id, record.history))
        level, position, acc = 0, index, digest
        while position & 1:
            acc = merkle.node_hash(frontier.pop(level), acc)
            level += 1
            position >>= 1
            if level >= STORED_FROM:
                node_rows.append((level, position, acc))
        frontier[level] = acc
    bulk_insert(uow, ledger_entries, _ENTRY_COLUMNS, entry_rows)
    bulk_insert(uow, ledger_nodes, _NODE_COLUMNS, node_rows)
    uow.connection.execute(
        _UPDATE_STATE,
        {"new_size": size + len(records), "new_frontier": pack_frontier(frontier)},
    )
    return [size + i for i in range(len(records))]


# -- heads -----------------------------------------------------------------------


def latest_head(uow: UnitOfWork) -> SignedHead | None:
    row = uow.connection.execute(
        select(ledger_heads).order_by(ledger_heads.c.size.desc()).limit(1)
    ).first()
    return None if row is None else SignedHead(row.size, row.root, row.signed_at, row.signature)


def sign_head(uow: UnitOfWork, vault: Vault, *, now: datetime) -> SignedHead:
    """A signed head for the tree as it is now (the latest one, if nothing was added).

    A head is never signed for a size below one already signed: the log only grows.
    """
    size = tree_size(uow)
    latest = latest_head(uow)
    if latest is not None and latest.size >= size:
        return latest
    root = root_at(uow, size)
    key = vault.signing_key()  # raises loudly when missing or damaged
    signature = key.sign(head_message(size, root, now))
    insert_ignoring_conflicts(
        uow,
        ledger_heads,
        [{"size": size, "root": root, "signed_at": now, "signature": signature}],
    )
    head = latest_head(uow)
    assert head is not None
    return head


def heads(uow: UnitOfWork) -> list[SignedHead]:
    rows = uow.connection.execute(select(ledger_heads).order_by(ledger_heads.c.size)).all()
    return [SignedHead(r.size, r.root, r.signed_at, r.signature) for r in rows]


def verify_head(head: SignedHead, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(head.signature, head.message())
    except InvalidSignature:
        return False
    return True


# -- proofs and entries -------------------------------------------------------------


def _check_size(uow: UnitOfWork, size: int, name: str) -> None:
    if size < 1:
        raise InvalidInput(f"{name} must be at least 1", code="invalid_size")
    current = tree_size(uow)
    if size > current:
        raise InvalidInput(
            f"{name} {size} is beyond the log, which holds {current} entries",
            code="beyond_log",
        )


def inclusion_proof(uow: UnitOfWork, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162."""
    _check_size(uow, size, "size")
    if not 0 <= index < size:
        raise InvalidInput(
            f"index must be between 0 and size - 1 ({size - 1})", code="invalid_index"
        )
    return merkle.proof_hashes(merkle.inclusion_ranges(index, size), _source(uow))


def inclusion_proofs(uow: UnitOfWork, indices: Sequence[int], size: int) -> dict[int, list[bytes]]:
    """PATH(index, D[0:size]) for many entries at once. The entries of one customer
    share most of their proofs' ranges (all the upper ones): each distinct range is
    hashed once, and its nodes are read once, in a few queries, for all of them."""
    _check_size(uow, size, "size")
    ranges: dict[int, list[tuple[int, int]]] = {}
    for index in indices:
        if not 0 <= index < size:
            raise InvalidInput(f"index {index} is not in a tree of {size}", code="invalid_index")
        ranges[index] = merkle.inclusion_ranges(index, size)
    distinct = {r for found in ranges.values() for r in found}
    nodes = _nodes(uow, merkle.needed(distinct))
    hashes = {(a, b): merkle.range_hash(a, b, nodes) for a, b in distinct}
    return {index: [hashes[r] for r in found] for index, found in ranges.items()}


def consistency_proof(uow: UnitOfWork, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162."""
    _check_size(uow, second, "second")
    if first < 1:
        raise InvalidInput("first must be at least 1", code="invalid_size")
    if first > second:
        raise InvalidInput("first must not be larger than second", code="invalid_range")
    return merkle.proof_hashes(merkle.consistency_ranges(first, second), _source(uow))


def entry(uow: UnitOfWork, index: int) -> StoredEntry:
    row = uow.connection.execute(
        select(ledger_entries).where(ledger_entries.c.idx == index)
    ).first()
    if row is None:
        raise NotFound(f"the log has no entry {index}", code="unknown_entry")
    return StoredEntry(row.idx, row.kind, row.body, row.leaf_hash)


def customer_entries(uow: UnitOfWork, customer_id: str) -> list[StoredEntry]:
    rows = uow.connection.execute(
        select(ledger_entries)
        .where(ledger_entries.c.customer_id == customer_id)
        .order_by(ledger_entries.c.idx)
    ).all()
    return [StoredEntry(r.idx, r.kind, r.body, r.leaf_hash) for r in rows]


def customer_entries_page(
    uow: UnitOfWork, customer_id: str, *, after: int = -1, limit: int = 500
) -> list[StoredEntry]:
    """A customer's entries after index `after`, in log order: long histories are
    read page by page."""
    rows = uow.connection.execute(
        select(ledger_entries)
        .where(ledger_entries.c.customer_id == customer_id, ledger_entries.c.idx > after)
        .order_by(ledger_entries.c.idx)
        .limit(limit)
    ).all()
    return [StoredEntry(r.idx, r.kind, r.body, r.leaf_hash) for r in rows]


def latest_customer_entries(
    uow: UnitOfWork, customer_id: str, *, before: int | None = None, limit: int = 50
) -> list[StoredEntry]:
    """A customer's entries newest first, before index `before`: a timeline's page."""
    stmt = select(ledger_entries).where(ledger_entries.c.customer_id == customer_id)
    if before is not None:
        stmt = stmt.where(ledger_entries.c.idx < before)
    rows = uow.connection.execute(stmt.order_by(ledger_entries.c.idx.desc()).limit(limit)).all()
    return [StoredEntry(r.idx, r.kind, r.body, r.leaf_hash) for r in rows]


def customer_entry(uow: UnitOfWork, customer_id: str, index: int) -> StoredEntry | None:
    """Entry `index` if it is about this customer; None otherwise, whether or not it
    exists (so one customer learns nothing of another's entries)."""
    row = uow.connection.execute(
        select(ledger_entries).where(
            ledger_entries.c.idx == index, ledger_entries.c.customer_id == customer_id
        )
    ).first()
    return None if row is None else StoredEntry(row.idx, row.kind, row.body, row.leaf_hash)


def entries_of_kind(uow: UnitOfWork, kind: str) -> Iterator[StoredEntry]:
    """Every entry of one kind, in log order (streamed)."""
    last = -1
    while True:
        rows = uow.connection.execute(
            select(ledger_entries)
            .where(ledger_entries.c.kind == kind, ledger_entries.c.idx > last)
            .order_by(ledger_entries.c.idx)
            .limit(5000)
        ).all()
        if not rows:
            return
        for r in rows:
            yield StoredEntry(r.idx, r.kind, r.body, r.leaf_hash)
        last = rows[-1].idx


def forget_customer(uow: UnitOfWork, customer_id: str) -> None:
    """Cut the look-up from a customer to their entries (the entries stay, pseudonymous)."""
    uow.connection.execute(
        update(ledger_entries)
        .where(ledger_entries.c.customer_id == customer_id)
        .values(customer_id=None)
    )


def move_entries(uow: UnitOfWork, winner: str, loser: str) -> None:
    """After a merge, the absorbed customer's entries are found under the survivor,
    each remembering the history it came from."""
    uow.connection.execute(
        update(ledger_entries)
        .where(ledger_entries.c.customer_id == loser)
        .values(
            customer_id=winner,
            history=func.coalesce(ledger_entries.c.history, ledger_entries.c.customer_id),
        )
    )


def return_entries(uow: UnitOfWork, holder: str, to: str, histories: Sequence[str]) -> int:
    """Undoing a merge: the entries about `histories` go back from `holder` to `to`."""
    return int(
        uow.connection.execute(
            update(ledger_entries)
            .where(
                ledger_entries.c.customer_id == holder,
                ledger_entries.c.history.in_(list(histories)),
            )
            .values(
                customer_id=to,
                history=case(
                    (ledger_entries.c.history == to, None), else_=ledger_entries.c.history
                ),
            )
        ).rowcount
    )


# -- verification ------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    entries: int
    heads_checked: int
    problem: str | None
    first_bad_index: int | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _stream(uow: UnitOfWork, chunk: int = 5000) -> Iterator[Any]:
    last = -1
    while True:
        rows = uow.connection.execute(
            select(ledger_entries.c.idx, ledger_entries.c.body, ledger_entries.c.leaf_hash)
            .where(ledger_entries.c.idx > last)
            .order_by(ledger_entries.c.idx)
            .limit(chunk)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].idx


def verify(uow: UnitOfWork, public_key: Ed25519PublicKey) -> Verification:
    """Recompute the whole tree from the stored entries and check every signed head.

    Reports the first entry that was altered (its content no longer matches its leaf
    hash), removed (a gap), reordered (an entry at an index it does not name) or cut
    off (a signed head covers more entries than remain); a rewrite that also forged
    the leaf hash is caught by the first signed head after it.
    """
    signed = heads(uow)
    pending = iter(signed)
    next_head = next(pending, None)
    checked = 0
    frontier: dict[int, bytes] = {}
    count = 0

    computed: dict[Node, bytes] = {}

    def failure(message: str, index: int | None) -> Verification:
        return Verification(count, checked, message, index)

    def stored_nodes_problem() -> Verification | None:
        """Compare the interior nodes proofs are served from with the recomputed ones."""
        stored = _stored_nodes(uow, computed)
        for node in sorted(computed):
            if stored.get(node) != computed[node]:
                level, idx = node
                first, last = idx << level, ((idx + 1) << level) - 1
                return failure(
                    f"the stored subtree over entries {first}–{last} does not match them: "
                    "proofs for those entries would fail",
                    None,
                )
        computed.clear()
        return None

    while next_head is not None and next_head.size == 0:
        if next_head.root != merkle.EMPTY_ROOT or not verify_head(next_head, public_key):
            return failure("the head signed for the empty log is wrong", None)
        checked += 1
        next_head = next(pending, None)

    for row in _stream(uow):
        if row.idx != count:
            return failure(f"entry {count} is missing: the log jumps to entry {row.idx}", count)
        try:
            named = orjson.loads(row.body).get("i")
        except (orjson.JSONDecodeError, AttributeError):
            named = None
        digest = merkle.leaf_hash(row.body)
        if digest != row.leaf_hash or named is None:
            return failure(f"entry {count} was altered: it no longer matches its hash", count)
        if named != count:
            return failure(
                f"entry {count} holds the content of entry {named}: entries were reordered",
                count,
            )
        level, position, acc = 0, count, digest
        while position & 1:
            acc = merkle.node_hash(frontier.pop(level), acc)
            level += 1
            position >>= 1
            if level >= STORED_FROM:
                computed[(level, position)] = acc
        frontier[level] = acc
        count += 1
        if len(computed) >= 1000 and (problem := stored_nodes_problem()) is not None:
            return problem
        while next_head is not None and next_head.size == count:
            root = acc
            for lvl in sorted(frontier):
                if lvl > level:
                    root = merkle.node_hash(frontier[lvl], root)
            if root != next_head.root:
                return failure(
                    f"the first {count} entries do not match the head signed at that size: "
                    "an entry before it was rewritten",
                    None,
                )
            if not verify_head(next_head, public_key):
                return failure(f"the signature of the head at size {count} is invalid", None)
            checked += 1
            next_head = next(pending, None)
    if next_head is not None:
        return failure(
            f"entries from {count} on are missing: a signed head covers {signed[-1].size} entries",
            count,
        )
    if (problem := stored_nodes_problem()) is not None:
        return problem
    stated, packed = uow.connection.execute(_STATE).one()
    if stated != count:
        return failure(f"the log says it holds {stated} entries but {count} remain", count)
    if packed is not None and packed != pack_frontier(frontier):
        return failure(
            "the stored right edge of the tree does not match the entries: "
            "the next entries would be appended to a wrong tree",
            None,
        )
    return Verification(count, checked, None, None)
