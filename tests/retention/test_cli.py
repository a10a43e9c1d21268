"""`trustable retention run [--dry-run]`, run as a user runs it, on the system clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from tests.helpers import cli_env, send
from tests.retention.history import SECRETS, advance, order, shopper
from trustable.bootstrap import bootstrap
from trustable.cli.main import app as cli
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings

runner = CliRunner()


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return cli_env(settings)


def rows(output: str) -> list[str]:
    """The body rows of a printed table, with their padding squeezed out."""
    return [" ".join(line.split()) for line in output.splitlines() if line.startswith("│")]


def seed(settings: Settings) -> str:
    """Ada, 800 days ago (everything of hers past retention), and an order of hers
    500 days ago (its behaviour and device past retention, the purchase not)."""
    past = bootstrap(settings, clock=FixedClock(datetime.now(UTC) - timedelta(days=800)))
    try:
        ada = shopper(past, "ada")
        advance(past, 300)
        send(past, order("ada", past.clock(), order_id="o-2"))
    finally:
        past.close()
    return ada


def test_retention_run_shows_what_would_go_then_what_went(
    settings: Settings, env: dict[str, str]
) -> None:
    ada = seed(settings)
    assert runner.invoke(cli, ["retention", "run", "--help"], env=env).exit_code == 0

    planned = runner.invoke(cli, ["retention", "run", "--dry-run"], env=env)
    assert planned.exit_code == 0, planned.output
    assert "would go (dry run)" in planned.stdout
    assert (
        "dry run, nothing was changed: a run now would delete 2 events, trim 1 and delete "
        "2 traits, for 1 of 1 customers" in planned.stdout
    )
    for category in ("user.behavior", "user.behavior.purchase_history", "user.contact.email"):
        assert category in planned.stdout

    done = runner.invoke(cli, ["retention", "run"], env=env)
    assert done.exit_code == 0, done.output
    assert "Past retention: gone" in done.stdout
    assert (
        "deleted 2 events, trimmed 1 and deleted 2 traits, for 1 of 1 customers; "
        "1 ledger entries written" in done.stdout
    )
    assert rows(planned.stdout) == rows(done.stdout)  # what would go is what went
    assert "│ user.behavior.purchase_history │ 730 days │ 1 │ 0 │ 0 │" in rows(done.stdout)

    again = runner.invoke(cli, ["retention", "run"], env=env)
    assert again.exit_code == 0, again.output
    assert "nothing is past its retention (1 customers checked)" in again.stdout
    for result in (planned, done, again):
        assert ada not in result.output
        assert not any(secret.decode() in result.output for secret in SECRETS)
