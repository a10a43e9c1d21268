"""Upgrading a store from before trusted identity (data_0013): every email and phone
it holds stays a claim until the shop's backend sends it again or its customer proves
it, so nothing a public key once sent becomes a sign-in address by the upgrade; and
`trustable db upgrade` says how many wait."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    inspect,
    select,
)
from typer.testing import CliRunner, Result

from tests.helpers import cli_env, msg, send
from trustable.bootstrap import Trustable, bootstrap
from trustable.cli.main import app as cli
from trustable.core.settings import Settings
from trustable.identity.service import find_customer
from trustable.identity.tables import identifiers
from trustable.storage.engine import make_engine
from trustable.storage.migrate import current_revision, head_revision, upgrade
from trustable.storage.types import UtcDateTime

BEFORE = "data_0013"
T_OLD = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
# What the old code stored, one customer each: ids, and addresses it did not tell
# apart by who sent them.
ADA = "cus_oldada0000000000000"
BEA = "cus_oldbea0000000000000"
STORED = {
    ADA: [("user_id", "ada"), ("email", "ada@example.org"), ("phone", "+33612345678")],
    BEA: [("user_id", "bea"), ("email", "bea@example.org")],
}
runner = CliRunner()

# The tables as the code of data_0013 declared them.
THEN = MetaData()
OLD_CUSTOMERS = Table(
    "customers",
    THEN,
    Column("customer_id", String(32), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("merged_into", String(32), nullable=True),
)
OLD_IDENTIFIERS = Table(
    "identifiers",
    THEN,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("customer_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("blind_index", String(64), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)


@pytest.fixture
def old_store(settings: Settings) -> Settings:
    """A store at data_0013 holding identifiers written as the code of then wrote them
    (ingest cannot run against that schema, so the rows go in directly)."""
    engine, keys = make_engine(settings.database_url), make_engine(settings.keystore_url)
    try:
        upgrade(keys, "keys")
        upgrade(engine, "data", BEFORE)
        then = bootstrap(settings, run_migrations=False)  # only for its vault
        try:
            vault = then.vault
            vault.create_keys(list(STORED))
            columns = {c["name"] for c in inspect(engine).get_columns("identifiers")}
            assert columns == set(OLD_IDENTIFIERS.c.keys())  # the schema of then
            with engine.begin() as conn:
                conn.execute(
                    OLD_CUSTOMERS.insert(),
                    [{"customer_id": c, "created_at": T_OLD, "merged_into": None} for c in STORED],
                )
                conn.execute(
                    OLD_IDENTIFIERS.insert(),
                    [
                        {
                            "customer_id": customer_id,
                            "kind": kind,
                            "blind_index": vault.blind_index(kind, value),
                            "value": vault.encrypt(customer_id, "identifier", value.encode()),
                            "created_at": T_OLD,
                        }
                        for customer_id, held in STORED.items()
                        for kind, value in held
                    ],
                )
        finally:
            then.close()
        assert current_revision(engine) == BEFORE
    finally:
        engine.dispose()
        keys.dispose()
    return settings


@pytest.fixture
def env(old_store: Settings) -> dict[str, str]:
    return cli_env(old_store)


@pytest.fixture
def upgraded(old_store: Settings) -> Iterator[Trustable]:
    """The old store, upgraded to the latest schema (bootstrap migrates it)."""
    app = bootstrap(old_store)
    yield app
    app.close()


def said(result: Result) -> str:
    """What a command printed, with the console's line wrapping undone."""
    return " ".join(result.output.split())


def stored_rows(app: Trustable) -> list[dict[str, Any]]:
    with app.reader() as uow:
        rows = uow.connection.execute(select(identifiers).order_by(identifiers.c.id))
        return [dict(row) for row in rows.mappings()]


def whose(app: Trustable, kind: str, value: str) -> str | None:
    with app.reader() as uow:
        return find_customer(uow, app.vault, kind, value)


def test_upgraded_rows_are_all_claims_none_vouched(upgraded: Trustable) -> None:
    assert current_revision(upgraded.engine) == head_revision("data")
    rows = stored_rows(upgraded)
    assert len(rows) == 5
    assert {"verified_by", "verified_at", "history"} <= set(rows[0])
    for row in rows:
        assert (row["verified_by"], row["verified_at"], row["history"]) == (None, None, None)
    assert {row["created_at"] for row in rows} == {T_OLD}  # nothing else touched


def test_an_upgraded_address_signs_nobody_in_but_ids_still_find_their_customer(
    upgraded: Trustable,
) -> None:
    assert whose(upgraded, "email", "ada@example.org") is None
    assert whose(upgraded, "email", "BEA@example.org") is None
    assert whose(upgraded, "phone", "+33 6 12 34 56 78") is None
    assert whose(upgraded, "user_id", "ada") == ADA
    assert whose(upgraded, "user_id", "bea") == BEA


def test_db_upgrade_migrates_the_old_store_and_counts_what_awaits_verification(
    env: dict[str, str], settings: Settings
) -> None:
    done = runner.invoke(cli, ["db", "upgrade"], env=env)
    assert done.exit_code == 0, done.output
    assert said(done).startswith(
        "data store and key store are up to date "
        "3 email addresses and phone numbers await verification:"
    )
    assert "collect:server key" in said(done) and "portal" in said(done)
    engine = make_engine(settings.database_url)
    try:
        assert current_revision(engine) == head_revision("data")
        assert "merges" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_only_the_shops_backend_sending_an_address_again_makes_it_a_contact(
    upgraded: Trustable, env: dict[str, str]
) -> None:
    # A web page's public key naming the address again vouches for nothing.
    send(upgraded, msg("identify", "ada", traits={"email": "ada@example.org"}), trusted=False)
    assert whose(upgraded, "email", "ada@example.org") is None
    # The backend's secret key does: that address, and only it.
    send(upgraded, msg("identify", "ada", traits={"email": "ada@example.org"}), trusted=True)
    assert whose(upgraded, "email", "ada@example.org") == ADA
    assert whose(upgraded, "phone", "+33612345678") is None
    by_value = {
        (row["customer_id"], row["kind"]): row["verified_by"] for row in stored_rows(upgraded)
    }
    assert by_value[(ADA, "email")] == "source"
    assert by_value[(ADA, "phone")] is None and by_value[(BEA, "email")] is None
    assert len(stored_rows(upgraded)) == 5  # vouched in place, not stored twice

    two = runner.invoke(cli, ["db", "upgrade"], env=env)
    assert "2 email addresses and phone numbers await verification" in said(two)
    send(upgraded, msg("identify", "bea", traits={"email": "bea@example.org"}), trusted=True)
    one = runner.invoke(cli, ["db", "upgrade"], env=env)
    assert "1 email address or phone number awaits verification" in said(one)
    send(upgraded, msg("identify", "ada", traits={"phone": "+33612345678"}), trusted=True)
    none = runner.invoke(cli, ["db", "upgrade"], env=env)
    assert none.exit_code == 0 and said(none) == "data store and key store are up to date"
