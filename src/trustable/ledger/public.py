"""What anyone may read of the ledger, without a key: its checkpoint and its tiles.

Both describe only the tree: sizes and hashes. Entry bodies name what was done with
a customer's data (pseudonymously, but still theirs), so they are not public: the
subject reads them in the portal and in their export, admins through the API.

The checkpoint is built from the latest head the sequencer signed, and signed again
in C2SP's note form under the log's origin with the same Ed25519 key. Ed25519 is
deterministic, so a checkpoint for a given size is the same bytes every time it is
asked for: nothing more needs storing. Tiles are served only up to that checkpoint's
size, so a reader never sees a tree the log has not committed to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from trustable.ledger import merkle
from trustable.ledger.note import Checkpoint, Note, NoteKey, sign
from trustable.ledger.service import LedgerDamaged, SignedHead, latest_head
from trustable.ledger.tables import ledger_entries, ledger_nodes
from trustable.ledger.tiles import HEIGHT, WIDTH, tile_width
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault


def log_key(vault: Vault, origin: str) -> NoteKey:
    """The log's note key: the ledger's Ed25519 key under the origin's name."""
    return NoteKey.of(origin, vault.public_key())


@dataclass(frozen=True)
class Published:
    """The checkpoint as published, and the head it was made from."""

    checkpoint: Checkpoint
    note: Note
    head: SignedHead | None  # None: nothing signed yet (the empty tree)


def checkpoint(uow: UnitOfWork, vault: Vault, origin: str) -> Published:
    """The latest signed head as a C2SP checkpoint, signed by the log."""
    head = latest_head(uow)
    size, root = (head.size, head.root) if head is not None else (0, merkle.EMPTY_ROOT)
    published = Checkpoint(origin, size, root)
    text = published.text()
    return Published(published, Note(text, (sign(text, origin, vault.signing_key()),)), head)


def published_size(uow: UnitOfWork) -> int:
    head = latest_head(uow)
    return head.size if head is not None else 0


def read_tile(uow: UnitOfWork, level: int, index: int, width: int) -> bytes | None:
    """The bytes of tile (`level`, `index`) with `width` hashes, or None when the
    published tree does not hold that many yet."""
    if width > tile_width(level, index, published_size(uow)):
        return None
    first = index * WIDTH
    if level == 0:
        rows = uow.connection.execute(
            select(ledger_entries.c.leaf_hash)
            .where(ledger_entries.c.idx >= first, ledger_entries.c.idx < first + width)
            .order_by(ledger_entries.c.idx)
        ).scalars()
    else:
        rows = uow.connection.execute(
            select(ledger_nodes.c.hash)
            .where(
                ledger_nodes.c.level == level * HEIGHT,
                ledger_nodes.c.idx >= first,
                ledger_nodes.c.idx < first + width,
            )
            .order_by(ledger_nodes.c.idx)
        ).scalars()
    hashes = [bytes(h) for h in rows]
    if len(hashes) != width:
        raise LedgerDamaged(
            f"tile {level}/{index} needs {width} stored hashes and the store has "
            f"{len(hashes)}: run `trustable ledger verify`"
        )
    return b"".join(hashes)
