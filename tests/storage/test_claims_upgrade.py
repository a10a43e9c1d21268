"""A store written before sources were told apart: on upgrade, no stored email or phone
becomes a contact by itself, and `db upgrade` says how many await verification."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from typer.testing import CliRunner

from trustable.bootstrap import bootstrap
from trustable.cli.main import app as cli
from trustable.core.settings import Settings
from trustable.identity.service import find_customer, linked_identifiers
from trustable.storage.engine import make_engine
from trustable.storage.migrate import upgrade

BEFORE = "data_0013"  # the last revision that made every traits.email a sign-in address


def test_stored_addresses_stay_claims_and_the_upgrade_counts_them(settings: Settings) -> None:
    engine, keys = make_engine(settings.database_url), make_engine(settings.keystore_url)
    try:
        upgrade(keys, "keys")
        upgrade(engine, "data", BEFORE)
    finally:
        keys.dispose()
    old = bootstrap(settings, run_migrations=False)
    try:
        vault, now = old.vault, datetime(2026, 11, 1, tzinfo=UTC)
        vault.create_keys(["cus_old"])
        rows = [
            ("user_id", "ada"),
            ("email", "ada@example.org"),  # sent by a web page, or by the backend: unknown
            ("phone", "+33612345678"),
        ]
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO customers (customer_id, created_at) VALUES ('cus_old', :now)"),
                {"now": now},
            )
            for kind, value in rows:
                conn.execute(
                    text(
                        "INSERT INTO identifiers (customer_id, kind, blind_index, value, "
                        "created_at) VALUES ('cus_old', :kind, :index, :value, :now)"
                    ),
                    {
                        "kind": kind,
                        "index": vault.blind_index(kind, value),
                        "value": vault.encrypt("cus_old", "identifier", value.encode()),
                        "now": now,
                    },
                )
    finally:
        old.close()
        engine.dispose()

    env = {
        "TRUSTABLE_HOME": str(settings.home),
        "TRUSTABLE_DATABASE_URL": settings.database_url,
        "TRUSTABLE_KEYSTORE_URL": settings.keystore_url,
        "TRUSTABLE_MASTER_KEY": settings.master_key or "",
        "TRUSTABLE_POLICY": str(settings.policy_path),
    }
    upgraded = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert "2 email addresses and phone numbers await verification" in upgraded.output
    again = CliRunner().invoke(cli, ["db", "upgrade"], env=env)  # idempotent, still counted
    assert again.exit_code == 0 and "2 email addresses" in again.output

    app = bootstrap(settings)
    try:
        with app.reader() as uow:
            assert find_customer(uow, app.vault, "user_id", "ada") == "cus_old"
            assert find_customer(uow, app.vault, "email", "ada@example.org") is None
            assert find_customer(uow, app.vault, "phone", "+33612345678") is None
            held = {i.kind: i.verified_by for i in linked_identifiers(uow, app.vault, "cus_old")}
    finally:
        app.close()
    assert held == {"user_id": None, "email": None, "phone": None}
