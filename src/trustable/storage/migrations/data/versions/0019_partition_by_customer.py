"""On PostgreSQL, per-customer tables become hash-partitioned by `customer_id`.

Each table of `storage.partitions.PARTITIONED` is rebuilt as `PARTITION BY HASH
(customer_id)` with N partitions `<table>_p0` .. `<table>_p<N-1>` (N from
`trustable db upgrade --partitions N`, else `TRUSTABLE_PARTITIONS`, else 16), its
rows copied, its indexes and constraints made again under the same names, its id
sequence kept (ids go on from where they were).

PostgreSQL enforces a unique key on a partitioned table only if the key holds the
partition key, so three keys gain `customer_id`, none of them weaker for it:
- the primary keys `id` of events, consent records and the outbox become
  (id, customer_id): ids still come from one sequence, so they stay unique;
- a consent receipt's id (a random UUID, minted per record) is unique per customer;
- an outbox row's idempotency key is a UUIDv5 of (destination, customer, message),
  so two customers never share one; unique per customer is the same guarantee.
Those two keys lead with the id, so a look-up by it alone (a receipt fetched by its
id) is still an index probe, one per partition.
Tables whose unique keys do not name the customer (identifiers by blind index,
requests, sessions, links, keys, the ledger) stay whole: docs/scale.md says which
and why. SQLite stores are left as they are.

Revision ID: data_0019
Revises: data_0018
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import re

from alembic import context, op
from sqlalchemy import Connection, text

from trustable.storage.citus import is_citus
from trustable.storage.partitions import KEY, PARTITIONED, wanted_count

revision = "data_0019"
down_revision = "data_0018"
branch_labels = None
depends_on = None

# table -> {constraint as it was: (name, definition) as partitioned}
WIDENED: dict[str, dict[tuple[str, str], tuple[str, str]]] = {
    "events": {
        ("pk_events", "PRIMARY KEY (id)"): ("pk_events", "PRIMARY KEY (id, customer_id)"),
    },
    "consent_records": {
        ("pk_consent_records", "PRIMARY KEY (id)"): (
            "pk_consent_records",
            "PRIMARY KEY (id, customer_id)",
        ),
        ("uq_consent_records_receipt_id", "UNIQUE (receipt_id)"): (
            "uq_consent_records_receipt_id_customer_id",
            "UNIQUE (receipt_id, customer_id)",
        ),
    },
    "outbox": {
        ("pk_outbox", "PRIMARY KEY (id)"): ("pk_outbox", "PRIMARY KEY (id, customer_id)"),
        ("uq_outbox_idempotency_key", "UNIQUE (idempotency_key)"): (
            "uq_outbox_idempotency_key_customer_id",
            "UNIQUE (idempotency_key, customer_id)",
        ),
    },
}
_COLUMNS = re.compile(r"^(?:PRIMARY KEY|UNIQUE) \(([^)]*)\)")


def _constraints(conn: Connection, table: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u', 'c') "
            "ORDER BY contype, conname"
        ),
        {"t": table},
    ).all()
    return [(str(name), str(definition)) for name, definition in rows]


def _indexes(conn: Connection, table: str, constraints: list[tuple[str, str]]) -> list[str]:
    """`CREATE INDEX` statements of the indexes that back no constraint."""
    taken = {name for name, _ in constraints}
    rows = conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = :t ORDER BY indexname"
        ),
        {"t": table},
    ).all()
    # A partitioned table's index reads `ON ONLY`; made whole again, it indexes all.
    return [str(d).replace(" ON ONLY ", " ON ") for name, d in rows if name not in taken]


def _sequences(conn: Connection, table: str) -> list[tuple[str, str]]:
    """(column, sequence) of each column whose default is a sequence the table owns."""
    rows = conn.execute(
        text(
            "SELECT a.attname, pg_get_serial_sequence(:t, a.attname) FROM pg_attribute a "
            "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        {"t": table},
    ).all()
    return [(str(column), str(seq)) for column, seq in rows if seq is not None]


def _is_partitioned(conn: Connection, table: str) -> bool:
    return bool(
        conn.execute(
            text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = CAST(:t AS regclass)"),
            {"t": table},
        ).scalar()
    )


def _rebuild(
    conn: Connection,
    table: str,
    *,
    partitions: int | None,
    constraints: list[tuple[str, str]],
) -> None:
    """Make `table` again with the same columns and rows: hash-partitioned in
    `partitions` when given, whole otherwise; then `constraints` and its indexes."""
    indexes = _indexes(conn, table, _constraints(conn, table))
    sequences = _sequences(conn, table)
    new = f"{table}__rebuilt"
    by = f" PARTITION BY HASH ({KEY})" if partitions else ""
    conn.execute(text(f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS){by}"))
    for i in range(partitions or 0):
        conn.execute(
            text(
                f"CREATE TABLE {table}_p{i} PARTITION OF {new} "
                f"FOR VALUES WITH (MODULUS {partitions}, REMAINDER {i})"
            )
        )
    conn.execute(text(f"INSERT INTO {new} SELECT * FROM {table}"))
    for _, seq in sequences:
        conn.execute(text(f"ALTER SEQUENCE {seq} OWNED BY NONE"))
    conn.execute(text(f"DROP TABLE {table}"))
    conn.execute(text(f"ALTER TABLE {new} RENAME TO {table}"))
    for column, seq in sequences:
        conn.execute(text(f"ALTER SEQUENCE {seq} OWNED BY {table}.{column}"))
    for name, definition in constraints:
        conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    for statement in indexes:
        conn.execute(text(statement))
    # Fresh tables have no statistics (autovacuum never analyzes a partitioned parent).
    conn.execute(text(f"ANALYZE {table}"))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    # On Citus the tables stay whole, keys widened all the same: the cluster's shards
    # split them by customer instead (data_0022, `storage.citus`).
    count = None if is_citus(conn) else wanted_count(context.config.attributes.get("partitions"))
    for table in PARTITIONED:
        if _is_partitioned(conn, table) or (count is None and table not in WIDENED):
            continue
        widened = WIDENED.get(table, {})
        constraints = []
        for name, definition in _constraints(conn, table):
            found = _COLUMNS.match(definition)
            if found and KEY not in [c.strip() for c in found.group(1).split(",")]:
                if (name, definition) not in widened:
                    raise RuntimeError(f"{table}: {name} does not name {KEY}; add it to WIDENED")
                name, definition = widened[(name, definition)]
            constraints.append((name, definition))
        _rebuild(conn, table, partitions=count, constraints=constraints)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in reversed(PARTITIONED):
        if not _is_partitioned(conn, table):
            continue
        narrowed = {new: old for old, new in WIDENED.get(table, {}).items()}
        constraints = [narrowed.get(c, c) for c in _constraints(conn, table)]
        _rebuild(conn, table, partitions=None, constraints=constraints)
