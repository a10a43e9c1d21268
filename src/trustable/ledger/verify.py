"""Checking the whole ledger: `trustable ledger verify`.

Recomputes the tree from the stored entries, checks every signed head, the stored
subtrees proofs are served from and the stored right edge, and that no pending
record has waited longer than the maximum merge delay the log promises.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from trustable.ledger import merkle
from trustable.ledger.merkle import Node
from trustable.ledger.sequencing import oldest_pending, pending_count
from trustable.ledger.service import (
    STATE,
    STORED_FROM,
    heads,
    pack_frontier,
    stored_nodes,
    verify_head,
)
from trustable.ledger.tables import ledger_entries
from trustable.storage.uow import UnitOfWork


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


def verify(
    uow: UnitOfWork,
    public_key: Ed25519PublicKey,
    *,
    now: datetime | None = None,
    max_delay: float | None = None,
) -> Verification:
    """Recompute the whole tree from the stored entries and check every signed head.

    Reports the first entry that was altered (its content no longer matches its leaf
    hash), removed (a gap), reordered (an entry at an index it does not name) or cut
    off (a signed head covers more entries than remain); a rewrite that also forged
    the leaf hash is caught by the first signed head after it. Given `now` and
    `max_delay` (seconds), a record pending for longer than that is a failure too:
    the log did not keep its promise to merge it.
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
        stored = stored_nodes(uow, computed)
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
    stated, packed = uow.connection.execute(STATE).one()
    if stated != count:
        return failure(f"the log says it holds {stated} entries but {count} remain", count)
    if packed is not None and packed != pack_frontier(frontier):
        return failure(
            "the stored right edge of the tree does not match the entries: "
            "the next entries would be appended to a wrong tree",
            None,
        )
    if now is not None and max_delay is not None:
        oldest = oldest_pending(uow)
        if oldest is not None and (now - oldest).total_seconds() > max_delay:
            waiting = pending_count(uow)
            return failure(
                f"{waiting} record(s) are still pending, the oldest for "
                f"{(now - oldest).total_seconds():.0f} s, longer than the maximum merge delay "
                f"of {max_delay:g} s: no sequencer is running (start `trustable serve`, or run "
                "`trustable ledger sequence`)",
                None,
            )
    return Verification(count, checked, None, None)
