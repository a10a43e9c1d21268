"""The data store on a Citus cluster: which table becomes what, and making it so.

With `TRUSTABLE_DATABASE_URL` naming a Citus coordinator, `trustable db upgrade`
distributes the store (migration data_0022), in one transaction, idempotently:

- **Distributed by `customer_id`, co-located with `customers`**: every table of
  `storage.partitions.PARTITIONED`. One customer's rows of every table sit in one
  shard group, so collecting, reading, exporting and erasing a customer are
  single-shard (router) statements. On Citus these tables are not hash-partitioned as
  well: the shards do that job, and `--partitions N` (or `TRUSTABLE_PARTITIONS`)
  sets their number instead (`citus.shard_count`).
- **Reference** (a copy on every node): `identifiers`. Collection finds customers by
  blind index, never by customer, and an id's blind index must be unique across all
  customers: a reference table keeps every unique key as it is, and its look-ups are
  local to whichever node reads. It is written only when a new identifier is seen.
- **On the coordinator** (Citus local tables, joined to distributed ones where a
  query needs it): everything else. The ledger and its pending records sit there,
  beside the sequencer that owns them: a pending record may name no customer (a
  console action), and the sequencer takes them in order with `FOR UPDATE SKIP
  LOCKED`, which needs one node. Keys, sessions, requests, incidents, analytics
  budgets and counters are small and global.
docs/scale.md lists every table with why.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from trustable.storage.partitions import KEY, PARTITIONED

ROOT = "customers"
REFERENCE = ("identifiers",)
# Never touched: Alembic's own bookkeeping.
UNTOUCHED = ("alembic_version",)


def is_citus(conn: Connection) -> bool:
    """Whether the store's database has the Citus extension (a coordinator)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'citus'")).scalar())


def by_shard(conn: Connection, values: Sequence[str], table: str = ROOT) -> list[list[str]]:
    """`values` of `table`'s distribution column, grouped by the shard each hashes to.

    Citus takes row locks (`FOR UPDATE`, `FOR SHARE`) only in a statement confined to
    one shard: grouped, a batch locks its customers with one statement per shard it
    touches instead of one per customer. The groups come in shard order, each sorted,
    so every batch takes its locks in one total order and none waits in a circle.
    """
    rows = conn.execute(
        text(
            "SELECT v, get_shard_id_for_distribution_column(CAST(:table AS regclass), v) "
            "FROM unnest(CAST(:values AS text[])) AS v"
        ),
        {"table": table, "values": list(values)},
    ).all()
    groups: dict[int, list[str]] = {}
    for value, shard in rows:
        groups.setdefault(int(shard), []).append(str(value))
    return [sorted(groups[shard]) for shard in sorted(groups)]


def placement(conn: Connection) -> dict[str, str]:
    """Each table of the store's schema that Citus knows: 'distributed', 'reference'
    or 'local' (`citus_tables` names no local tables, `pg_dist_partition` does)."""
    rows = conn.execute(
        text(
            "SELECT c.relname, p.partmethod, p.repmodel FROM pg_dist_partition p "
            "JOIN pg_class c ON c.oid = p.logicalrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema()"
        )
    ).all()
    kinds = {"h": "distributed", "n": "local"}
    out: dict[str, str] = {}
    for name, method, model in rows:
        out[str(name)] = "reference" if model == "t" else kinds.get(str(method), str(method))
    return out


def _tables(conn: Connection) -> list[str]:
    rows = conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    ).scalars()
    return [str(name) for name in rows]


def distribute(conn: Connection, *, shard_count: int) -> list[str]:
    """Make the store's tables what the module says, where they are not yet; the
    names of the tables changed (none when the store is already distributed)."""
    done = placement(conn)
    changed: list[str] = []
    conn.execute(text(f"SET LOCAL citus.shard_count = {int(shard_count)}"))
    # Creating shards over several connections inside one transaction, as Citus
    # otherwise would, cannot see this transaction's own new tables.
    conn.execute(text("SET LOCAL citus.multi_shard_modify_mode = 'sequential'"))
    for table in PARTITIONED:
        if table in done:
            continue
        if table == ROOT:
            conn.execute(text("SELECT create_distributed_table(:t, :k)"), {"t": table, "k": KEY})
        else:
            conn.execute(
                text("SELECT create_distributed_table(:t, :k, colocate_with => :root)"),
                {"t": table, "k": KEY, "root": ROOT},
            )
        changed.append(table)
    for table in REFERENCE:
        if table not in done:
            conn.execute(text("SELECT create_reference_table(:t)"), {"t": table})
            changed.append(table)
    for table in _tables(conn):
        if table in done or table in changed or table in UNTOUCHED:
            continue
        conn.execute(text("SELECT citus_add_local_table_to_metadata(:t)"), {"t": table})
        changed.append(table)
    return changed
