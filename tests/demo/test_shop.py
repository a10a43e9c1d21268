"""`trustable demo`: a shop that has lived 90 days, so every chart and answer has data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import sqlite_settings
from tests.helpers import cli_env
from trustable.analytics.runner import ask
from trustable.analytics.schemas import AggregateQuery
from trustable.analytics.service import analytics_spec
from trustable.bootstrap import Trustable, bootstrap
from trustable.cli.main import app as cli
from trustable.consent.tables import consent_records
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.dashboard.charts import NO_DATA
from trustable.dashboard.panels import dashboard_charts
from trustable.dashboard.service import trust_dashboard
from trustable.demo.shop import seed_demo
from trustable.demo.warehouse import NAME, Warehouse, with_warehouse
from trustable.events.tables import events
from trustable.identity.service import count_customers
from trustable.incidents.service import list_incidents
from trustable.rights.service import Kind, list_requests
from trustable.rights.tables import rights_requests
from trustable.segments.tables import segment_members

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Warehouse]:
    found = Warehouse().start()
    yield found
    found.stop()


def seeded(settings: Settings, warehouse: Warehouse, customers: int) -> Trustable:
    shop = bootstrap(with_warehouse(settings, warehouse.url), clock=FixedClock(NOW))
    seed_demo(shop, customers=customers)
    return shop


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, warehouse: Warehouse) -> Iterator[Trustable]:
    """The full demo, seeded once for this module."""
    found = seeded(sqlite_settings(tmp_path_factory.mktemp("demo")), warehouse, 1000)
    yield found
    found.close()


def counts(shop: Trustable) -> dict[str, int]:
    with shop.reader() as uow:
        c = uow.connection
        return {
            "customers": count_customers(uow),
            "events": c.execute(select(func.count()).select_from(events)).scalar_one(),
            "consents": c.execute(select(func.count()).select_from(consent_records)).scalar_one(),
            "requests": c.execute(select(func.count()).select_from(rights_requests)).scalar_one(),
            "members": c.execute(select(func.count()).select_from(segment_members)).scalar_one(),
        }


def test_the_same_seed_makes_the_same_shop(tmp_path: Path, warehouse: Warehouse) -> None:
    made = []
    for n in (1, 2):
        shop = seeded(sqlite_settings(tmp_path / str(n)), warehouse, 120)
        try:
            made.append(counts(shop))
        finally:
            shop.close()
    assert made[0] == made[1]
    assert made[0]["customers"] >= 120 and made[0]["events"] > 1000


def test_a_thousand_customers_arrived_over_ninety_days_ending_now(shop: Trustable) -> None:
    assert counts(shop)["customers"] >= 1000
    with shop.reader() as uow:
        oldest, newest = uow.connection.execute(
            select(func.min(events.c.occurred_at), func.max(events.c.occurred_at))
        ).one()
        first_consent = uow.connection.execute(
            select(func.min(consent_records.c.recorded_at))
        ).scalar_one()
    assert NOW - timedelta(days=91) <= oldest < NOW - timedelta(days=80)
    assert NOW - timedelta(days=1) < newest <= NOW
    assert first_consent < NOW - timedelta(days=80)


def test_every_dashboard_chart_has_data(shop: Trustable) -> None:
    with shop.reader() as uow:
        board = trust_dashboard(
            uow,
            shop.policy,
            shop.vault.public_key(),
            start=NOW - timedelta(days=30),
            end=NOW,
            now=NOW,
        )
    assert board.customers >= 1000
    for status in ("granted", "denied", "withdrawn"):
        assert sum(board.consent.total(status)) > 0, status
    needing = [r for r in board.rates if r.needs_consent]
    assert needing and all(r.granted > 10 and r.denied > 10 for r in needing)
    assert any(r.withdrawn > 0 for r in needing)
    assert {f.kind for f in board.requests} == {k.value for k in Kind}
    assert sum(f.completed for f in board.requests) > 0
    assert sum(f.open for f in board.requests) > 0
    assert any(f.median_time_to_complete is not None for f in board.requests)
    assert board.drops and board.drops[0].count > 0
    assert board.ledger.size > 10_000 and board.ledger.head_verified
    charts = dashboard_charts(board, shop.policy)
    assert charts and [name for name, svg in charts.items() if NO_DATA in svg] == []
    (warehouse,) = [d for d in board.deliveries if d.destination == NAME]
    assert warehouse.delivered > 1000
    assert warehouse.queued == warehouse.retrying == warehouse.dead == 0


def test_some_requests_are_overdue(shop: Trustable) -> None:
    with shop.reader() as uow:
        overdue = list_requests(uow, now=NOW, overdue=True)
    assert overdue and all(r.due_at < NOW for r in overdue)


def test_an_incident_was_reported_and_closed(shop: Trustable) -> None:
    with shop.reader() as uow:
        (incident,) = list_incidents(uow)
    assert incident.report_submitted_at is not None
    assert incident.report_submitted_at <= incident.report_due
    assert incident.risk.value == "low"  # sealed data without keys: no notices owed


def test_segments_hold_more_than_k_members(shop: Trustable) -> None:
    k = analytics_spec(shop.policy).k
    with shop.reader() as uow:
        sizes = dict(
            uow.connection.execute(
                select(segment_members.c.segment, func.count()).group_by(segment_members.c.segment)
            ).all()
        )
    assert sizes.get("sci-fi-fans", 0) > k


def test_an_analyst_gets_answers_above_k(shop: Trustable) -> None:
    answer = ask(shop, AggregateQuery(measure="count", group_by="gender"), analyst="analyst")
    assert answer.released == 2
    assert all(c.value > answer.k for c in answer.cells if c.suppressed is None)


def test_demo_reuses_a_seeded_store_and_reset_starts_over(
    tmp_path: Path, warehouse: Warehouse
) -> None:
    """`--reset` deletes the demo's home; without it the store is seeded only once."""
    settings = sqlite_settings(tmp_path)
    seeded(settings, warehouse, 30).close()
    runner = CliRunner()
    env = cli_env(settings)
    again = runner.invoke(cli, ["demo", "--no-serve"], env=env)
    assert again.exit_code == 0, again.output
    assert "already seeded" in again.output
    assert (settings.home / "data.db").exists()
    marker = settings.home / "left-over"
    marker.write_text("x")
    reset = runner.invoke(cli, ["demo", "--no-serve", "--reset", "--customers", "40"], env=env)
    assert reset.exit_code == 0, reset.output
    assert not marker.exists()
    assert "already seeded" not in reset.output
    assert f"seeded: {8 + 40} customers" in reset.output  # the named eight, and the rest
    assert "Server write key:" in reset.output and "/admin" in reset.output
