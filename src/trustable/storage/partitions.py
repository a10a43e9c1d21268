"""How the data store is partitioned on PostgreSQL, and how many partitions it has.

On PostgreSQL every table that holds one customer's rows and is read by customer is
hash-partitioned by `customer_id` (declarative partitioning, `<table>_p0` ..
`<table>_p<N-1>`), so a statement that names a customer touches one partition and a
distributed PostgreSQL (Citus) can place each customer's rows on one node, all
their tables together (docs/scale.md). SQLite stores are not partitioned.

The count is chosen once, when migration data_0019 converts the tables: from
`trustable db upgrade --partitions N`, else `TRUSTABLE_PARTITIONS`, else
`DEFAULT_PARTITIONS`. Moving rows to a new count would rewrite every table, so a
store refuses a different count later (`PartitionCountError`) instead of ignoring it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sqlalchemy import Connection, text

from trustable.core.errors import ConfigurationError

DEFAULT_PARTITIONS = 16
MAX_PARTITIONS = 1024
ENV = "TRUSTABLE_PARTITIONS"

# Every table hash-partitioned by `customer_id`, in the order the migration converts
# them. What the other tables are and why they stay whole: docs/scale.md.
PARTITIONED = (
    "customers",
    "events",
    "traits",
    "received_messages",
    "consent_records",
    "consent_state",
    "restrictions",
    "outbox",
    "segment_hits",
    "segment_members",
    "incident_customers",
)
KEY = "customer_id"


class PartitionCountError(ConfigurationError):
    """A partition count that cannot be used: out of range, or not the store's own."""


def check_count(count: int) -> int:
    if not 1 <= count <= MAX_PARTITIONS:
        raise PartitionCountError(
            f"the partition count must be a whole number from 1 to {MAX_PARTITIONS}"
        )
    return count


def wanted_count(asked: int | None, environ: Mapping[str, str] | None = None) -> int:
    """The count a new partitioning uses: the one asked for, else the environment's."""
    if asked is not None:
        return check_count(asked)
    value = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not value:
        return DEFAULT_PARTITIONS
    try:
        return check_count(int(value))
    except ValueError:
        raise PartitionCountError(f"{ENV} must be a whole number of partitions") from None


def partition_count(connection: Connection) -> int | None:
    """How many partitions the store's tables have; None when they are not
    partitioned (SQLite, or a PostgreSQL store not yet converted)."""
    if connection.dialect.name != "postgresql":
        return None
    found = connection.execute(
        text(
            "SELECT count(i.inhrelid) FROM pg_partitioned_table p "
            "JOIN pg_class c ON c.oid = p.partrelid "
            "LEFT JOIN pg_inherits i ON i.inhparent = p.partrelid "
            "WHERE c.relname = :table AND c.relnamespace = current_schema()::regnamespace "
            "GROUP BY p.partrelid"
        ),
        {"table": PARTITIONED[1]},
    ).scalar()
    return None if found is None else int(found)


def refuse_other_count(connection: Connection, asked: int | None) -> None:
    """Raise when `asked` is not the count the store was partitioned with."""
    if asked is None:
        return
    check_count(asked)
    have = partition_count(connection)
    if have is not None and have != asked:
        raise PartitionCountError(
            f"this store is already partitioned in {have}; the count is fixed once chosen "
            f"(asked for {asked}: run without --partitions, or with --partitions {have})"
        )
