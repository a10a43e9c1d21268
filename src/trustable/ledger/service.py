"""Recording in the ledger, signing tree heads, proving.

Every write path calls `submit` inside its own unit of work, so the record and the
work it records commit together. A submitted record is *pending*: it holds no index
yet and takes no lock, so writers in every process go on side by side. The
sequencer (`ledger.sequencing`, run by `ledger.sequencer`) gives pending records
their indices in batches within the maximum merge delay, as a Certificate
Transparency log merges what it promised to log. The few writers that hand out
their entry's index at once (an export's receipt, an erasure certificate) `append`
instead: that takes the tree size under a lock (a row lock on PostgreSQL; SQLite has
one writer anyway) until commit. Either way an append writes the entries and the
perfect subtrees they complete and touches O(log n) stored nodes however large the
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
from trustable.ledger.tables import (
    ledger_entries,
    ledger_heads,
    ledger_nodes,
    ledger_pending,
    ledger_state,
)
from trustable.storage.bulk import bulk_insert, driver_time
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
        return read_body(self.body)


@dataclass(frozen=True)
class PendingEntry:
    """A submitted record still waiting for its index: "being logged"."""

    seq: int
    kind: str
    body: bytes  # the canonical entry without "i"
    recorded_at: datetime

    def content(self) -> dict[str, Any]:
        return read_body(self.body)


def read_body(body: bytes) -> dict[str, Any]:
    """An entry's (or a pending record's) canonical bytes, read."""
    parsed: dict[str, Any] = orjson.loads(body)
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
    found.update(stored_nodes(uow, (node for node in wanted if node[0] >= STORED_FROM)))
    missing = wanted - set(found)
    if missing:
        raise LedgerDamaged(f"the ledger is missing {len(missing)} stored node(s)")
    return {node: found[node] for node in wanted}


class LedgerDamaged(TrustableError):
    """Stored nodes a proof needs are gone: `trustable ledger verify` says more."""

    code = "ledger_damaged"
    status = 500


def stored_nodes(uow: UnitOfWork, wanted: Iterable[Node]) -> dict[Node, bytes]:
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
STATE = select(ledger_state.c.size, ledger_state.c.frontier).where(ledger_state.c.id == 1)
STATE_LOCKED = STATE.with_for_update()
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


def locked_state(uow: UnitOfWork) -> tuple[int, dict[int, bytes]]:
    """The tree size and its right edge, locked until commit (PostgreSQL: FOR UPDATE;
    SQLite's writer already holds the database)."""
    stmt = STATE_LOCKED if uow.dialect == "postgresql" else STATE
    size, packed = uow.connection.execute(stmt).one()
    if packed is None:  # a log written before the edge was kept beside the size
        return int(size), _frontier(uow, int(size))
    return int(size), unpack_frontier(packed)


def content(
    vault: Vault, record: Record, at: str, names: dict[str, str] | None = None
) -> dict[str, Any]:
    """A record's canonical entry, all but its index "i" (which sequencing adds).
    `names`: pseudonyms already taken for this batch, filled as they are taken (a
    batch names the same customer many times)."""
    subject = None
    if record.customer_id:
        if names is None:
            subject = vault.pseudonym(record.customer_id)
        else:
            subject = names.get(record.customer_id)
            if subject is None:
                subject = names[record.customer_id] = vault.pseudonym(record.customer_id)
    return {
        "v": FORMAT_VERSION,
        "at": at,
        "kind": record.kind,
        "subject": subject,
        "actor": record.actor,
        "detail": record.detail,
    }


# An entry about to be written: its canonical bytes (with "i"), kind and look-ups.
Indexed = tuple[bytes, str, str | None, str | None]


def with_index(body: bytes, kind: str, index: int) -> bytes:
    """A submitted record's bytes with its index: `encode` of its content plus "i",
    without parsing it again. With sorted keys "i" comes right before the top-level
    "kind", which only "subject" (a pseudonym or null) and "v" follow, so the last
    `,"kind":` of the bytes is that one whatever the detail holds."""
    marker = b',"kind":' + orjson.dumps(kind)
    at = body.rfind(marker)
    if at < 0:
        raise LedgerDamaged("a pending record is not in the canonical form")
    return b'%s,"i":%d%s' % (body[:at], index, body[at:])


def write_entries(
    uow: UnitOfWork, size: int, frontier: dict[int, bytes], entries: Sequence[Indexed]
) -> int:
    """Write `entries` (already holding the indices from `size` on), the subtrees
    they complete and the new size; return the new size. The caller holds the size
    lock (`locked_state`) and `frontier` is the edge it read with it (updated in place)."""
    entry_rows: list[tuple[Any, ...]] = []
    node_rows: list[tuple[int, int, bytes]] = []
    leaf, node = merkle.leaf_hash, merkle.node_hash
    for index, (body, kind, customer_id, history) in enumerate(entries, start=size):
        digest = leaf(body)
        entry_rows.append((index, kind, body, digest, customer_id, history))
        level, position, acc = 0, index, digest
        while position & 1:
            acc = node(frontier.pop(level), acc)
            level += 1
            position >>= 1
            if level >= STORED_FROM:
                node_rows.append((level, position, acc))
        frontier[level] = acc
    bulk_insert(uow, ledger_entries, _ENTRY_COLUMNS, entry_rows)
    bulk_insert(uow, ledger_nodes, _NODE_COLUMNS, node_rows)
    new_size = size + len(entries)
    uow.connection.execute(
        _UPDATE_STATE, {"new_size": new_size, "new_frontier": pack_frontier(frontier)}
    )
    return new_size


def append(uow: UnitOfWork, vault: Vault, records: Sequence[Record], *, now: datetime) -> list[int]:
    """Give each record the next index at once and write it; return the indices.

    For the few writers that hand out their entry's index or proof in the same answer
    (an export's receipt, an erasure certificate, an incident's record): everything
    else `submit`s. Call it last in the unit of work: the size lock is held until
    commit, and every other appender, the sequencer included, waits for it.
    """
    if not records:
        return []
    size, frontier = locked_state(uow)
    at = stamp(now)
    entries = [
        (encode({**content(vault, r, at), "i": index}), r.kind, r.customer_id, r.history)
        for index, r in enumerate(records, start=size)
    ]
    write_entries(uow, size, frontier, entries)
    return [size + i for i in range(len(records))]


_PENDING_COLUMNS = ("kind", "body", "customer_id", "history", "recorded_at")


def submit(uow: UnitOfWork, vault: Vault, records: Sequence[Record], *, now: datetime) -> None:
    """Record in the ledger as pending: committed with the work it records, given its
    index by the sequencer within the maximum merge delay. No lock is taken, so any
    number of writers in any number of processes submit side by side."""
    if not records:
        return
    at = stamp(now)
    recorded = driver_time(uow, now)
    names: dict[str, str] = {}
    rows = [
        (r.kind, encode(content(vault, r, at, names)), r.customer_id, r.history, recorded)
        for r in records
    ]
    bulk_insert(uow, ledger_pending, _PENDING_COLUMNS, rows)


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


def customer_pending(uow: UnitOfWork, customer_id: str) -> list[PendingEntry]:
    """A customer's records still being logged, oldest first (few: the sequencer
    takes them within the merge delay)."""
    rows = uow.connection.execute(
        select(
            ledger_pending.c.seq,
            ledger_pending.c.kind,
            ledger_pending.c.body,
            ledger_pending.c.recorded_at,
        )
        .where(ledger_pending.c.customer_id == customer_id)
        .order_by(ledger_pending.c.seq)
    ).all()
    return [PendingEntry(r.seq, r.kind, r.body, r.recorded_at) for r in rows]


# The look-ups below change pending records before entries: on PostgreSQL a pending
# record the sequencer is moving right now is locked, the change waits for it, finds
# it gone, and the next statement (a fresh snapshot) finds it among the entries.


def forget_customer(uow: UnitOfWork, customer_id: str) -> None:
    """Cut the look-up from a customer to their entries (the entries stay, pseudonymous)."""
    for table in (ledger_pending, ledger_entries):
        uow.connection.execute(
            update(table).where(table.c.customer_id == customer_id).values(customer_id=None)
        )


def move_entries(uow: UnitOfWork, winner: str, loser: str) -> None:
    """After a merge, the absorbed customer's entries are found under the survivor,
    each remembering the history it came from."""
    for table in (ledger_pending, ledger_entries):
        uow.connection.execute(
            update(table)
            .where(table.c.customer_id == loser)
            .values(customer_id=winner, history=func.coalesce(table.c.history, table.c.customer_id))
        )


def return_entries(uow: UnitOfWork, holder: str, to: str, histories: Sequence[str]) -> int:
    """Undoing a merge: the entries about `histories` go back from `holder` to `to`."""
    moved = 0
    for table in (ledger_pending, ledger_entries):
        moved += int(
            uow.connection.execute(
                update(table)
                .where(table.c.customer_id == holder, table.c.history.in_(list(histories)))
                .values(
                    customer_id=to,
                    history=case((table.c.history == to, None), else_=table.c.history),
                )
            ).rowcount
        )
    return moved
