"""On PostgreSQL the per-customer tables are hash-partitioned by customer, and every
statement the hot paths (collect, profile read, delivery, export, erase) send about a
customer reads or writes that customer's partition of each table it touches, and
nothing else: what lets one
customer's work stay on one shard of a distributed PostgreSQL (docs/scale.md).

The statements are the real ones: captured from the engine while each path runs
end to end over HTTP against a partitioned store, then planned by PostgreSQL with
their own parameters (`EXPLAIN`), and the partitions in each plan counted.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, text

from tests.conftest import POSTGRES_URL, LiveServer, make_key, sqlite_settings
from tests.destinations.receiver import Receiver
from tests.destinations.test_delivery import policy_with
from tests.helpers import msg
from trustable.bootstrap import Trustable, bootstrap, migrate
from trustable.core.settings import Settings
from trustable.destinations.worker import Worker
from trustable.events.tables import events
from trustable.identity.service import find_customer
from trustable.storage.engine import drop_schema, make_engine
from trustable.storage.migrate import current_revision, downgrade, upgrade
from trustable.storage.partitions import (
    PARTITIONED,
    PartitionCountError,
    partition_count,
    wanted_count,
)

PARTS = 8
PERSONALIZE = "personalize.content.profiled"
_PARTITION = re.compile(rf"^({'|'.join(PARTITIONED)})_p(\d+)$")

# Statements that by their nature are not about one customer, each with why: they
# may read every partition (through each partition's own index).
ACROSS_CUSTOMERS = {
    # The delivery queue: due rows of every customer, by state and time.
    "outbox": "WHERE outbox.state = ",
    # Erasure walks the customers once joined into the one erased, by `merged_into`:
    # who they are is what it looks for (each partition answers from its own index).
    "customers": "WHERE customers.merged_into IN",
}


@dataclass
class Statement:
    sql: str
    parameters: Any
    many: bool


@dataclass
class Recorder:
    """Every statement the engine sends, grouped by the path that sent it."""

    engine: Engine
    path: str = ""
    seen: dict[str, list[Statement]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(
        self, _conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, many: bool
    ) -> None:
        if self.path:
            self.seen.setdefault(self.path, []).append(Statement(sql, parameters, many))

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def _pg_settings(tmp_path: Path) -> Settings:
    tag = secrets.token_hex(6)
    sep = "&" if "?" in POSTGRES_URL else "?"
    return replace(
        sqlite_settings(tmp_path),
        database_url=f"{POSTGRES_URL}{sep}schema=t_{tag}",
        keystore_url=f"{POSTGRES_URL}{sep}schema=t_{tag}_keys",
    )


@pytest.fixture
def pg(tmp_path: Path, postgres_available: bool) -> Iterator[Settings]:
    """A PostgreSQL store of this test's own (CI=true fails if there is none)."""
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable here (CI requires it)")
    settings = _pg_settings(tmp_path)
    yield settings
    for url in (settings.database_url, settings.keystore_url):
        engine = make_engine(url)
        drop_schema(engine)
        engine.dispose()


@pytest.fixture
def shop(pg: Settings, tmp_path: Path, receiver: Receiver) -> Iterator[Trustable]:
    """A shop on PostgreSQL partitioned in PARTS, with a destination to deliver to."""
    migrate(pg, partitions=PARTS)
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_with(receiver.url))
    app = bootstrap(replace(pg, policy_path=policy))
    yield app
    app.close()


def _plan(engine: Engine, statement: Statement) -> list[tuple[set[str], dict[str, Any]]]:
    """PostgreSQL's plan for each parameter set of a statement (never executed), with
    the customers the parameters name."""
    sets = statement.parameters if statement.many else [statement.parameters]
    plans = []
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for parameters in sets[:3]:
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement.sql, parameters or None)
            # A value, or a list of them (`storage.among`, rows sent as arrays).
            values = [
                v
                for value in (parameters or {}).values()
                for v in (value if isinstance(value, list) else [value])
            ]
            named = {v for v in values if isinstance(v, str) and v.startswith("cus_")}
            plans.append((named, cursor.fetchone()[0][0]["Plan"]))
        conn.rollback()
    return plans


def _home(engine: Engine, table: str, customer_id: str) -> int:
    """The partition of `table` that holds `customer_id`'s rows."""
    with engine.connect() as conn:
        for remainder in range(PARTS):
            if conn.execute(
                text(
                    "SELECT satisfies_hash_partition(CAST(:t AS regclass), :m, :r, "
                    "CAST(:c AS VARCHAR))"
                ),
                {"t": table, "m": PARTS, "r": remainder, "c": customer_id},
            ).scalar():
                return remainder
    raise AssertionError(f"no partition of {table} holds {customer_id}")


def _partitions(plan: dict[str, Any]) -> dict[str, set[int]]:
    """The partitions a plan reads or writes, by table."""
    found: dict[str, set[int]] = {}
    stack = [plan]
    while stack:
        node = stack.pop()
        named = _PARTITION.match(node.get("Relation Name", ""))
        if named:
            found.setdefault(named.group(1), set()).add(int(named.group(2)))
        stack.extend(node.get("Plans", []))
    return found


def _partitioned_tables(sql: str) -> set[str]:
    return {t for t in PARTITIONED if re.search(rf"\b(FROM|JOIN|UPDATE|INTO) {t}\b", sql)}


def _run_hot_paths(shop: Trustable, server: LiveServer, recorder: Recorder) -> str:
    """Collect, read, deliver, export and erase one customer, as the shop does."""
    backend = make_key(shop, "collect:server", name="backend")
    consent = make_key(shop, "consent:write")
    reader = make_key(shop, f"read:{PERSONALIZE}")
    requests = make_key(shop, "requests")
    # Another customer, so that a statement that is not about one would show it.
    httpx.post(
        f"{server.url}/v1/batch",
        json={"batch": [msg("identify", "bob", traits={"age": 50})], "writeKey": backend},
    ).raise_for_status()

    recorder.path = "consent"
    httpx.post(
        f"{server.url}/v1/consents",
        json={"user_id": "ada", "purpose": PERSONALIZE, "status": "granted"},
        headers={"Authorization": f"Bearer {consent}"},
    ).raise_for_status()
    recorder.path = "collect"
    for batch in (
        # A browser of Ada's before she signs in: a customer of its own, then joined.
        [msg("page", None, anonymousId="anon-1", name="Home", context={"ip": "203.0.113.7"})],
        [
            msg(
                "identify",
                "ada",
                anonymousId="anon-1",
                traits={"email": "ada@example.org", "age": 36},
            )
        ],
        [
            msg("track", "ada", event="Movie Rated", properties={"movie_id": "1", "rating": 5}),
            msg("track", "ada", event="Movie Rated", properties={"movie_id": "2", "rating": 3}),
        ],
    ):
        answer = httpx.post(f"{server.url}/v1/batch", json={"batch": batch, "writeKey": backend})
        assert answer.status_code == 200, answer.text
    recorder.path = ""
    with shop.reader() as uow:
        ada = find_customer(uow, shop.vault, "user_id", "ada")
    assert ada is not None

    recorder.path = "profile read"
    profile = httpx.get(
        f"{server.url}/v1/customers/{ada}/profile",
        params={"purpose": PERSONALIZE},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert profile.status_code == 200 and profile.json()["traits"] == {"age": 36}
    recorder.path = "delivery"
    # Ada's identify and two ratings go out (Bob gave no consent to the recommender's
    # purpose: his identify is not queued).
    assert Worker(shop).run_once()["delivered"] == 3
    recorder.path = "export"
    filed = httpx.post(
        f"{server.url}/v1/requests",
        json={"customer_id": ada, "kind": "access"},
        headers={"Authorization": f"Bearer {requests}"},
    ).json()
    export = httpx.get(
        f"{server.url}/v1/requests/{filed['request_id']}/export",
        headers={"Authorization": f"Bearer {filed['token']}"},
    )
    # The browser's page view, joined into her history, and her own three.
    assert export.status_code == 200 and len(export.json()["events"]) == 4
    recorder.path = "erase"
    erased = httpx.post(
        f"{server.url}/v1/requests",
        json={"customer_id": ada, "kind": "erase"},
        headers={"Authorization": f"Bearer {requests}"},
    )
    assert erased.status_code == 201 and erased.json()["state"] == "done", erased.text
    recorder.path = ""
    return ada


def test_every_hot_path_statement_touches_only_its_customers_partitions(
    shop: Trustable, live_server_for: Any
) -> None:
    recorder = Recorder(shop.engine)
    try:
        _run_hot_paths(shop, live_server_for(shop), recorder)
    finally:
        recorder.close()
    assert set(recorder.seen) == {
        "consent",
        "collect",
        "profile read",
        "delivery",
        "export",
        "erase",
    }
    checked: dict[str, int] = {}
    wide: list[str] = []
    for path, statements in recorder.seen.items():
        for statement in statements:
            tables = _partitioned_tables(statement.sql)
            if not tables:
                continue
            if statement.sql.startswith("INSERT INTO") and " SELECT " not in statement.sql:
                # An INSERT of values routes each row to its customer's partition.
                assert re.match(r"INSERT INTO \w+ \([^)]*\bcustomer_id\b", statement.sql)
                checked[path] = checked.get(path, 0) + 1
                continue
            for named, plan in _plan(shop.engine, statement):
                touched = _partitions(plan)
                for table in tables:
                    found = touched.get(table, set())
                    homes = {_home(shop.engine, table, c) for c in named}
                    if ACROSS_CUSTOMERS.get(table, "\0") in statement.sql:
                        continue
                    checked[path] = checked.get(path, 0) + 1
                    # Only the partitions of the customers it names: one when it names one.
                    if not found <= homes or (not named and len(found) > 1):
                        wide.append(f"{path}: {table} {sorted(found)}: {statement.sql}")
    assert not wide, "\n".join(wide)
    # Each path was planned, statement by statement (not skipped as it went by).
    assert all(checked.get(p, 0) >= 2 for p in recorder.seen), checked


def test_the_count_is_chosen_once_and_a_different_one_is_refused(pg: Settings) -> None:
    engine = make_engine(pg.database_url)
    try:
        upgrade(engine, "data", partitions=3)
        with engine.connect() as conn:
            assert partition_count(conn) == 3
            parts = conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = CAST('traits' AS regclass) ORDER BY c.relname"
                )
            ).scalars()
            assert list(parts) == ["traits_p0", "traits_p1", "traits_p2"]
        upgrade(engine, "data", partitions=3)  # the same count: nothing to do
        upgrade(engine, "data")  # none asked: the store's own
        with pytest.raises(PartitionCountError, match="already partitioned in 3"):
            upgrade(engine, "data", partitions=5)
        with pytest.raises(PartitionCountError, match="from 1 to"):
            upgrade(engine, "data", partitions=0)
    finally:
        engine.dispose()


def test_the_count_comes_from_the_environment_or_defaults_to_16() -> None:
    assert wanted_count(None, {}) == 16
    assert wanted_count(None, {"TRUSTABLE_PARTITIONS": "32"}) == 32
    assert wanted_count(7, {"TRUSTABLE_PARTITIONS": "32"}) == 7
    with pytest.raises(PartitionCountError):
        wanted_count(None, {"TRUSTABLE_PARTITIONS": "many"})


def test_rows_of_a_store_made_before_survive_partitioning_and_going_back(
    pg: Settings,
) -> None:
    """A store's rows, ids included, survive data_0019's downgrade (tables whole
    again) and its upgrade (partitioned again), and the widened keys are there."""
    app = bootstrap(pg)
    try:
        at = datetime(2026, 12, 1, tzinfo=UTC)
        with app.engine.begin() as conn:
            conn.execute(
                events.insert(),
                [
                    {
                        "customer_id": f"cus_{who}",
                        "message_id": f"m-{who}",
                        "type": "track",
                        "occurred_at": at,
                        "received_at": at,
                        "categories": "",
                        "payload": b"sealed",
                    }
                    for who in ("ada", "bob", "cyd")
                ],
            )
        downgrade(app.engine, "data", "data_0018")
        with app.engine.connect() as conn:
            assert partition_count(conn) is None
            before = conn.execute(text("SELECT id, customer_id, message_id FROM events")).all()
            assert (
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_class WHERE relname LIKE 'events_p%' "
                        "AND relnamespace = CAST(current_schema() AS regnamespace)"
                    )
                ).scalar()
                == 0
            )
            assert len(before) == 3
        upgrade(app.engine, "data", "data_0019", partitions=2)
        assert current_revision(app.engine) == "data_0019"
        with app.engine.connect() as conn:
            assert partition_count(conn) == 2
            after = conn.execute(text("SELECT id, customer_id, message_id FROM events")).all()
            assert sorted(after) == sorted(before)
            # The id sequence goes on from where it was, owned by the new table.
            owner = conn.execute(text("SELECT pg_get_serial_sequence('events', 'id')")).scalar()
            assert owner is not None
            nxt = conn.execute(text(f"SELECT nextval('{owner}')")).scalar()
            assert nxt is not None and nxt > max(row.id for row in before)
            # The keys that gained the customer (see data_0019) are in place.
            constraints = set(
                conn.execute(
                    text(
                        "SELECT conname FROM pg_constraint WHERE conrelid IN "
                        "(CAST('consent_records' AS regclass), CAST('outbox' AS regclass))"
                    )
                ).scalars()
            )
            assert {
                "uq_consent_records_receipt_id_customer_id",
                "uq_outbox_idempotency_key_customer_id",
                "pk_consent_records",
                "pk_outbox",
            } <= constraints
    finally:
        app.close()
