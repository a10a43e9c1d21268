"""Both stores migrate to head, stay apart, and every per-customer table names its customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, create_engine, inspect, select

from trustable.bootstrap import Trustable
from trustable.core.settings import Settings
from trustable.storage.engine import make_engine
from trustable.storage.migrate import current_revision, head_revision, upgrade
from trustable.storage.partitions import PARTITIONED, partition_count
from trustable.storage.tables import all_tables
from trustable.storage.types import UtcDateTime

# Tables that hold nothing about any one customer.
NOT_PER_CUSTOMER = {
    "api_keys",
    "collection_drops",
    "console_users",  # the company's staff, not its customers
    "sign_in_failures",  # console sign-in attempts, by keyed hash: staff, not customers
    "alembic_version",
    "vault_secrets",
    "ledger_nodes",
    "ledger_state",
    "ledger_heads",
    "ledger_cosignatures",  # witnesses' cosignatures of the log's checkpoints
    "incidents",  # an incident's facts and totals; its customers are in incident_customers
    "incident_steps",
    "analytics_budgets",  # analysts' privacy budgets: no customer in them
    "analytics_spends",
    "analytics_answers",  # the queries of exact answers: no customer in them
    "key_changes",  # a log in commit order, read whole by every process: never sharded
    "job_leases",  # which process runs a store-wide job: no customer in them
}


def test_both_stores_are_at_the_latest_revision(app: Trustable) -> None:
    assert current_revision(app.engine) == head_revision("data")
    assert current_revision(app.key_engine) == head_revision("keys")
    # Upgrading again is a no-op, not an error.
    upgrade(app.engine, "data")
    assert current_revision(app.engine) == head_revision("data")


def test_the_migrations_build_exactly_the_declared_tables(app: Trustable) -> None:
    for engine, store in ((app.engine, "data"), (app.key_engine, "keys")):
        found = set(inspect(engine).get_table_names()) - {"alembic_version"}
        if engine.dialect.name == "postgresql" and store == "data":
            # The partitions of each partitioned table (storage.partitions) are its own.
            with engine.connect() as conn:
                count = partition_count(conn)
            assert count is not None
            parts = {f"{t}_p{i}" for t in PARTITIONED for i in range(count)}
            assert parts <= found
            found -= parts
        assert found == set(all_tables(store).tables)


def test_a_store_stamped_before_incidents_segments_and_analytics_gets_their_tables(
    tmp_path: Path,
) -> None:
    """data_0008 to data_0010 were released empty: a store stamped at data_0010 must
    still get the tables those domains need when it upgrades."""
    engine = make_engine(f"sqlite:///{tmp_path / 'data.db'}")
    try:
        upgrade(engine, "data", "data_0010")
        before = set(inspect(engine).get_table_names())
        assert "incidents" not in before and "segment_members" not in before
        upgrade(engine, "data")
        after = set(inspect(engine).get_table_names())
        assert {"incidents", "incident_customers", "segment_members", "analytics_spends"} <= after
        assert current_revision(engine) == head_revision("data")
    finally:
        engine.dispose()


def test_keys_never_sit_in_the_data_store(app: Trustable) -> None:
    data_tables = set(inspect(app.engine).get_table_names())
    assert "customer_keys" not in data_tables and "vault_secrets" not in data_tables
    assert "events" not in set(inspect(app.key_engine).get_table_names())


def test_every_per_customer_table_carries_customer_id(settings: Settings) -> None:
    for store in ("data", "keys"):
        for name, table in all_tables(store).tables.items():
            if name in NOT_PER_CUSTOMER:
                continue
            assert "customer_id" in table.c, name


def test_an_unsupported_database_is_refused() -> None:
    import pytest

    from trustable.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="unsupported database 'mysql'"):
        make_engine("mysql://root@localhost/test")
    with pytest.raises(ConfigurationError, match="schema must be"):
        make_engine("postgresql://postgres@127.0.0.1/test?schema=Robert');DROP")


def test_times_come_back_aware_and_in_utc(app: Trustable) -> None:
    from datetime import timezone

    from tests.helpers import msg
    from trustable.events.segment import parse_batch
    from trustable.events.service import customer_events, ingest
    from trustable.identity.service import find_customer

    paris = datetime(2026, 11, 20, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    message = msg("track", "t-1", event="E", properties={"order_id": "1"})
    message["timestamp"] = paris.isoformat()
    batch = parse_batch({"batch": [message]}, single_type=None, received_at=paris)
    with app.uow() as uow:
        ingest(uow, app.vault, app.policy, batch.messages, now=paris, actor="test", trusted=True)
        uow.commit()
    with app.uow() as uow:
        customer = find_customer(uow, app.vault, "user_id", "t-1")
        assert customer is not None
        (event,) = customer_events(uow, app.vault, customer)
    assert event.occurred_at == paris
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_sqlite_times_written_in_any_iso_shape_come_back_aware_in_utc(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'times.db'}")
    metadata = MetaData()
    table = Table("times", metadata, Column("at", UtcDateTime()))
    metadata.create_all(engine)
    ten = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"at": ten + timedelta(microseconds=5)}])
        conn.exec_driver_sql(
            "INSERT INTO times VALUES ('2026-11-20 10:00:00'), ('2026-11-20T11:00:00+01:00')"
        )
        found = [row.at for row in conn.execute(select(table.c.at))]
    engine.dispose()
    assert found == [ten + timedelta(microseconds=5), ten, ten]
    assert all(moment.tzinfo is UTC for moment in found)
