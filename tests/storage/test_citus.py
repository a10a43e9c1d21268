"""Trustable on a real Citus cluster (a coordinator and two workers on loopback,
started by tests/citus.py with the workplace's tool): `db upgrade` distributes the
store by customer, each hot path's statement about a customer is a router query (one
task, one shard group), and an erasure leaves none of the customer's rows on any
worker."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from tests.citus import workers
from tests.conftest import postgres_store, sqlite_settings
from tests.destinations.receiver import Receiver
from tests.destinations.test_delivery import policy_with
from tests.helpers import msg, send
from tests.storage.test_partitions import (
    ACROSS_CUSTOMERS,
    Recorder,
    Statement,
    _partitioned_tables,
    _run_hot_paths,
)
from trustable.bootstrap import Trustable, bootstrap, migrate
from trustable.core.settings import Settings
from trustable.storage.citus import REFERENCE, ROOT, by_shard, distribute, placement
from trustable.storage.engine import schema_of
from trustable.storage.partitions import PARTITIONED

SHARDS = 4


@pytest.fixture
def cluster_store(citus_url: str, tmp_path: Path) -> Iterator[Settings]:
    """A store of this test's own on the cluster (its key store on the plain
    PostgreSQL), migrated, so distributed, in SHARDS shards."""
    with postgres_store(sqlite_settings(tmp_path), data_server=citus_url) as settings:
        migrate(settings, partitions=SHARDS)
        yield settings


@pytest.fixture
def shop(cluster_store: Settings, tmp_path: Path, receiver: Receiver) -> Iterator[Trustable]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_with(receiver.url))
    app = bootstrap(replace(cluster_store, policy_path=policy))
    yield app
    app.close()


def test_db_upgrade_distributes_by_customer_and_again_changes_nothing(
    cluster_store: Settings,
) -> None:
    app = bootstrap(cluster_store)
    try:
        with app.engine.connect() as conn:
            placed = placement(conn)
            colocated = dict(
                conn.execute(
                    text(
                        "SELECT c.relname, p.colocationid FROM pg_dist_partition p "
                        "JOIN pg_class c ON c.oid = p.logicalrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = current_schema() AND p.partmethod = 'h'"
                    )
                ).all()
            )
            shards = conn.execute(
                text(
                    "SELECT count(*) FROM pg_dist_shard s JOIN pg_class c "
                    "ON c.oid = s.logicalrelid WHERE c.relname = :root "
                    "AND c.relnamespace = CAST(current_schema() AS regnamespace)"
                ),
                {"root": ROOT},
            ).scalar_one()
            tables = conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars()
            whole = conn.execute(
                text(
                    "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON "
                    "c.oid = p.partrelid WHERE c.relnamespace = "
                    "CAST(current_schema() AS regnamespace)"
                )
            ).scalar_one()
        assert {t for t, kind in placed.items() if kind == "distributed"} == set(PARTITIONED)
        assert {t for t, kind in placed.items() if kind == "reference"} == set(REFERENCE)
        # One shard group per customer: every distributed table co-located with the root.
        assert len(set(colocated.values())) == 1
        assert shards == SHARDS
        assert whole == 0  # the shards split the tables: no partitions besides
        # Everything else sits on the coordinator, beside the sequencer.
        local = {t for t, kind in placed.items() if kind == "local"}
        assert {"ledger_pending", "ledger_entries", "ledger_state", "api_keys"} <= local
        assert set(tables) - set(placed) == {"alembic_version"}
        # Upgrading a distributed store again is a no-op.
        migrate(cluster_store, partitions=SHARDS)
        with app.engine.begin() as conn:
            assert distribute(conn, shard_count=SHARDS) == []
            assert placement(conn) == placed
    finally:
        app.close()


def _tasks(plan: Any) -> list[int]:
    """The task counts of every distributed step of a Citus plan."""
    found: list[int] = []
    stack = [plan]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "Task Count" in node:
                found.append(int(node["Task Count"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _explain(shop: Trustable, statement: Statement) -> list[tuple[set[str], list[int]]]:
    # Rows given as values may arrive rendered into one statement (one dict).
    many = statement.many and not isinstance(statement.parameters, dict)
    sets = statement.parameters if many else [statement.parameters]
    out = []
    with shop.engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for parameters in sets[:3]:
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement.sql, parameters or None)
            given = parameters or {}
            values = [
                v
                for value in (given.values() if isinstance(given, dict) else given)
                for v in (value if isinstance(value, list) else [value])
            ]
            named = {v for v in values if isinstance(v, str) and v.startswith("cus_")}
            out.append((named, _tasks(cursor.fetchone()[0])))
        conn.rollback()
    return out


def test_each_hot_path_statement_about_a_customer_is_one_task_and_erasure_reaches_every_worker(
    shop: Trustable, live_server_for: Any, citus_url: str
) -> None:
    recorder = Recorder(shop.engine)
    try:
        ada = _run_hot_paths(shop, live_server_for(shop), recorder)
    finally:
        recorder.close()
    checked: dict[str, int] = {}
    wide: list[str] = []
    for path, statements in recorder.seen.items():
        for statement in statements:
            tables = _partitioned_tables(statement.sql)
            if not tables or any(ACROSS_CUSTOMERS.get(t, "\0") in statement.sql for t in tables):
                continue
            moved = re.match(r"INSERT INTO (\w+) ", statement.sql)
            if moved and re.search(rf"\bFROM {moved.group(1)}\b", statement.sql):
                # A join's rows copied from one customer to the other (`storage.moves`):
                # two shard groups by nature, and Citus cannot EXPLAIN it with
                # parameters. Its DELETE of the old rows is checked below.
                continue
            for named, tasks in _explain(shop, statement):
                checked[path] = checked.get(path, 0) + 1
                # A router query: one task for one customer, never more than it names.
                if not tasks or max(tasks) > max(1, len(named)):
                    wide.append(f"{path}: tasks {tasks} for {len(named)}: {statement.sql}")
    assert not wide, "\n".join(wide)
    assert all(checked.get(p, 0) >= 2 for p in recorder.seen), checked

    # The erased customer's rows are gone from every shard on every worker, while the
    # other customer's are still there (so the search below can find rows at all).
    schema = schema_of(shop.engine)
    with shop.reader() as uow:
        bob = uow.connection.execute(text("SELECT customer_id FROM customers")).scalar_one()
    found = {ada: 0, bob: 0}
    nodes = workers(citus_url)
    assert len(nodes) == 2
    for node in nodes:
        with psycopg.connect(node) as conn:
            # Workers hide their shards from catalog queries unless asked.
            conn.execute("SET citus.show_shards_for_app_name_prefixes = '*'")
            shard_tables = conn.execute(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = %s AND column_name = 'customer_id'",
                (schema,),
            ).fetchall()
            # Shards are `<table>_<shard id>`; the other names are the cluster's
            # metadata copies of the tables, which hold no rows.
            shards = [n for (n,) in shard_tables if re.match(r"^[a-z_]+_\d+$", n)]
            assert shards, f"no shards of the store on {node}"
            for name in shards:
                for customer in found:
                    found[customer] += conn.execute(
                        f'SELECT count(*) FROM "{schema}"."{name}" WHERE customer_id = %s',
                        (customer,),
                    ).fetchone()[0]  # type: ignore[index]
    assert found[ada] == 0, "rows of the erased customer are left on a worker"
    assert found[bob] > 0


def test_a_batch_locks_its_customers_with_one_statement_per_shard_in_one_order(
    cluster_store: Settings,
) -> None:
    """Row locks on Citus need a statement confined to one shard: `by_shard` groups a
    batch's customers so, each group in one shard, the groups in shard order and each
    sorted (the one order every batch takes its locks in)."""
    app = bootstrap(cluster_store)
    ids = [f"cus_{n:04d}" for n in range(60, 0, -1)]
    try:
        with app.engine.connect() as conn:
            groups = by_shard(conn, ids)
            shards = [
                {
                    conn.execute(
                        text("SELECT get_shard_id_for_distribution_column(:t, CAST(:v AS text))"),
                        {"t": ROOT, "v": value},
                    ).scalar_one()
                    for value in group
                }
                for group in groups
            ]
    finally:
        app.close()
    assert sorted(v for group in groups for v in group) == sorted(ids)  # each once
    assert len(groups) == SHARDS  # 60 ids hash onto every one of the shards
    assert all(len(found) == 1 for found in shards)  # one shard a group
    assert [next(iter(s)) for s in shards] == sorted(next(iter(s)) for s in shards)
    assert all(group == sorted(group) for group in groups)


def test_a_known_customer_s_contacts_are_not_written_to_the_reference_table_again(
    cluster_store: Settings,
) -> None:
    """On Citus `identifiers` is a reference table, and each write to it locks it on
    every node: an identify call repeating an address the customer holds writes
    nothing there (and so never waits on, or deadlocks with, other batches)."""
    app = bootstrap(cluster_store)
    recorder = Recorder(app.engine)
    identify = msg("identify", "ada", traits={"email": "ada@example.org", "age": 36})

    def collect(path: str) -> None:
        recorder.path = path
        send(app, {**identify, "messageId": path}, trusted=False)

    try:
        collect("first")
        collect("again")
        with app.reader() as uow:
            kinds = uow.connection.execute(
                text("SELECT kind FROM identifiers ORDER BY kind")
            ).scalars()
            held = list(kinds)
    finally:
        recorder.close()
        app.close()

    def writes(path: str) -> list[str]:
        return [s.sql for s in recorder.seen[path] if s.sql.startswith("INSERT INTO identifiers")]

    assert held == ["email", "user_id"]  # the address, claimed once
    assert writes("first")  # the new customer and the address claimed
    assert writes("again") == []


def test_trusted_sign_ups_at_the_same_time_never_deadlock_on_the_reference_table(
    cluster_store: Settings,
) -> None:
    """A backend's sign-ups create customers (a plain insert into the `identifiers`
    reference table) and vouch for their addresses (an upsert, which Citus locks
    exclusively): batches doing both at once must take turns, not deadlock and be
    retried. Sent straight to `ingest`, with no retry, so a deadlock fails here."""
    app = bootstrap(cluster_store)
    failures: list[str] = []

    def sign_ups(sender: int) -> None:
        for n in range(15):
            user = f"u-{sender}-{n}"
            try:
                send(
                    app,
                    msg("identify", user, traits={"email": f"{user}@example.org"}),
                    msg("track", user, event="Signed Up"),
                )
            except Exception as exc:  # any failure, reported below
                failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    senders = [threading.Thread(target=sign_ups, args=(s,)) for s in range(4)]
    try:
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=120)
        with app.reader() as uow:
            emails = uow.connection.execute(
                text("SELECT count(*) FROM identifiers WHERE kind = 'email'")
            ).scalar_one()
    finally:
        app.close()
    assert failures == []
    assert emails == 4 * 15
