"""MovieLens as customers: dates moved to now, so retention keeps what was imported."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import MOVIELENS
from trustable.bootstrap import bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.demo.movielens import import_movielens
from trustable.events.tables import events
from trustable.retention.service import sweep

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.skipif(not MOVIELENS.exists(), reason="MovieLens 100K is not beside the project")
def test_ratings_keep_their_order_and_span_and_end_at_import_time(settings: Settings) -> None:
    app = bootstrap(replace(settings), clock=FixedClock(NOW))
    try:
        summary = import_movielens(app, MOVIELENS, limit=3000)
        assert summary.events == 3000
        with app.reader() as uow:
            newest, oldest = uow.connection.execute(
                select(func.max(events.c.occurred_at), func.min(events.c.occurred_at))
            ).one()
            report = sweep(uow, app.vault, app.policy, now=NOW, dry_run=True, limit=10_000)
        assert newest == NOW
        assert timedelta(days=30) < NOW - oldest < timedelta(days=240)  # the data set's span
        assert report.events_deleted == 0 and report.events_trimmed == 0
    finally:
        app.close()
