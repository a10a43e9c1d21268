"""Sweeping inside `serve`: a thread that sweeps at start and every N hours, and stops."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from tests.retention.history import SECRETS, T0, advance, shopper
from trustable.api import server
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.errors import ConfigurationError
from trustable.core.settings import Settings
from trustable.events.service import customer_events
from trustable.retention.runner import start_in_background, sweep_all

THREAD = "trustable-retention"


@pytest.fixture
def shop(settings: Settings) -> Iterator[Trustable]:
    app = bootstrap(settings, clock=FixedClock(T0))
    yield app
    app.close()


def eventually(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the sweep did not happen in time")
        time.sleep(0.02)


def events_left(app: Trustable, customer_id: str) -> int:
    with app.reader() as uow:
        return len(customer_events(uow, app.vault, customer_id))


def join_sweepers() -> None:
    for thread in threading.enumerate():
        if thread.name == THREAD:
            thread.join(timeout=10)
            assert not thread.is_alive()


def test_the_thread_sweeps_logs_counts_only_and_stops(
    shop: Trustable, caplog: pytest.LogCaptureFixture
) -> None:
    ada = shopper(shop, "ada")
    advance(shop, 731)
    with caplog.at_level(logging.INFO, logger="trustable.retention"):
        thread, stop = start_in_background(shop, every=0.05)
        try:
            eventually(lambda: events_left(shop, ada) == 0)
            eventually(lambda: "retention sweep: 2 events deleted" in caplog.text)
        finally:
            stop.set()
            thread.join(timeout=10)
    assert not thread.is_alive()
    assert ada not in caplog.text
    assert not any(secret.decode() in caplog.text for secret in SECRETS)
    assert "failed" not in caplog.text


def test_serve_sweeps_beside_the_api(shop: Trustable, monkeypatch: pytest.MonkeyPatch) -> None:
    ada = shopper(shop, "ada")
    advance(shop, 731)
    seen: list[str] = []

    def serving(app: Trustable, host: str, port: int, *, log_level: str) -> None:
        seen.extend(t.name for t in threading.enumerate())
        eventually(lambda: events_left(app, ada) == 0)  # the first sweep runs at start

    monkeypatch.setattr(server, "_serve", serving)
    server.run(shop, "127.0.0.1", 0)
    join_sweepers()
    assert THREAD in seen


def test_retention_hours_zero_sweeps_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = bootstrap(replace(settings, retention_hours=0), clock=FixedClock(T0))
    try:
        ada = shopper(app, "ada")
        advance(app, 731)
        seen: list[str] = []

        def serving(app: Trustable, host: str, port: int, *, log_level: str) -> None:
            seen.extend(t.name for t in threading.enumerate())

        monkeypatch.setattr(server, "_serve", serving)
        server.run(app, "127.0.0.1", 0)
        assert THREAD not in seen
        assert events_left(app, ada) == 2
        assert sweep_all(app).events_deleted == 2  # what the thread would have done
    finally:
        app.close()


@pytest.mark.parametrize(
    ("value", "hours"), [(None, 24.0), ("0", 0.0), ("6", 6.0), ("0.5", 0.5), (" 48 ", 48.0)]
)
def test_the_sweep_interval_comes_from_the_environment(value: str | None, hours: float) -> None:
    env = {} if value is None else {"TRUSTABLE_RETENTION_HOURS": value}
    assert Settings.from_env(env).retention_hours == hours


@pytest.mark.parametrize("value", ["never", "-1", "nan", "inf", "9000"])
def test_a_wrong_sweep_interval_is_refused_not_read_as_never(value: str) -> None:
    with pytest.raises(ConfigurationError, match="TRUSTABLE_RETENTION_HOURS"):
        Settings.from_env({"TRUSTABLE_RETENTION_HOURS": value})
