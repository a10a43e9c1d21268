"""The ledger's tables, in the data store so an entry commits with the work it records.

`ledger_entries.body` is the canonical entry (see docs/ledger.md) and holds no
personal value: the customer appears only as a pseudonym that dies with their key.
`customer_id` beside it is a look-up for "my entries", outside the hashed body, and
is cleared when the customer is erased.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
)

from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime

ledger_entries = Table(
    "ledger_entries",
    data_metadata,
    # On SQLite an INTEGER primary key is the rowid itself: one index less to write.
    Column(
        "idx", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("kind", String(24), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Column("customer_id", String(32), nullable=True),
    # Outside the hashed body too: the history the entry was about, once that
    # history has been joined into another customer's (NULL: its own customer's).
    Column("history", String(32), nullable=True),
    Index("ix_ledger_entries_customer", "customer_id", "idx"),
)

# Records made but not yet in the tree: collection, reads and shares write here in
# their own transaction, with no lock on the tree, and the sequencer (one process at a
# time, `ledger.sequencer`) moves them into `ledger_entries` with their indices.
# `body` is the canonical entry without its index "i"; `recorded_at` is when the
# record was made, what the maximum merge delay is measured from.
ledger_pending = Table(
    "ledger_pending",
    data_metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("kind", String(24), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("customer_id", String(32), nullable=True),
    Column("history", String(32), nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Index("ix_ledger_pending_customer", "customer_id"),
)

# Perfect subtrees of level >= 1 (level 0 is `ledger_entries.leaf_hash`): what makes
# appending and proofs O(log n) look-ups instead of a walk over every entry.
ledger_nodes = Table(
    "ledger_nodes",
    data_metadata,
    Column("level", SmallInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    PrimaryKeyConstraint("level", "idx"),
    sqlite_with_rowid=False,
)

# One row: the tree size. The sequencer (and the rare writer that needs its index at
# once, `service.append`) locks it (SELECT … FOR UPDATE on PostgreSQL) until commit,
# so indices are dense and never handed out twice.
ledger_state = Table(
    "ledger_state",
    data_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    # The right edge of the tree (see `service.pack_frontier`), kept with the size so
    # an append reads one row instead of O(log n) nodes.
    Column("frontier", LargeBinary, nullable=True),
)

ledger_heads = Table(
    "ledger_heads",
    data_metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("signed_at", UtcDateTime(), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

# Witnesses' cosignatures of the log's checkpoints (C2SP tlog-cosignature), one per
# witness and size: appended to the published checkpoint of that size, and the size
# each witness last cosigned is where the next request's consistency proof starts.
ledger_cosignatures = Table(
    "ledger_cosignatures",
    data_metadata,
    Column("witness", String(200), nullable=False),  # its verifier key
    Column("size", BigInteger, nullable=False),
    Column("line", String(400), nullable=False),  # the note signature line
    Column("cosigned_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("witness", "size"),
)
