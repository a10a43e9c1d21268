"""When an event happened: the device's clock is corrected, and never trusted into the future.

Over real HTTP, with the server's clock held still: what a device claims is checked
against when the message arrived, and a retention sweep then counts from that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_key
from tests.helpers import grant, msg
from tests.retention.history import ANALYTICS, advance, customer
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.events.segment import occurred_at
from trustable.events.service import customer_events
from trustable.retention.service import sweep

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def shop(settings: Settings) -> Iterator[Trustable]:
    app = bootstrap(settings, clock=FixedClock(T0))
    yield app
    app.close()


@pytest.fixture
def server(shop: Trustable, live_server_for: Callable[[Trustable], LiveServer]) -> LiveServer:
    return live_server_for(shop)


def collect(server: LiveServer, key: str, body: dict[str, Any]) -> None:
    answer = httpx.post(f"{server.url}/v1/batch", json={**body, "writeKey": key}, timeout=10)
    assert answer.status_code == 200, answer.text


def times(shop: Trustable, user: str) -> list[datetime]:
    with shop.reader() as uow:
        return [e.occurred_at for e in customer_events(uow, shop.vault, customer(shop, user))]


def test_a_timestamp_in_the_far_future_is_kept_as_the_time_received(
    shop: Trustable, server: LiveServer
) -> None:
    key = make_key(shop, "collect")
    grant(shop, "ada", ANALYTICS)
    collect(
        server,
        key,
        {"batch": [msg("track", "ada", event="Signed In", timestamp="9999-12-31T23:59:59Z")]},
    )
    assert times(shop, "ada") == [T0]


def test_a_device_clock_ahead_is_corrected_by_sent_at_and_never_past_the_arrival(
    shop: Trustable, server: LiveServer
) -> None:
    key = make_key(shop, "collect")
    grant(shop, "ada", ANALYTICS)
    device = T0 + timedelta(hours=1)  # the device's clock runs an hour fast
    ten_seconds_before = msg(
        "track", "ada", event="Viewed", timestamp=(device - timedelta(seconds=10)).isoformat()
    )
    # A timestamp after the device's own sentAt would land after the arrival: clamped.
    after_sending = msg(
        "track", "ada", event="Viewed", timestamp=(device + timedelta(days=3)).isoformat()
    )
    collect(
        server, key, {"batch": [ten_seconds_before, after_sending], "sentAt": device.isoformat()}
    )
    assert sorted(times(shop, "ada")) == [T0 - timedelta(seconds=10), T0]


def test_an_event_sent_with_a_far_future_time_is_swept_when_its_retention_ends(
    shop: Trustable, server: LiveServer
) -> None:
    key = make_key(shop, "collect")
    grant(shop, "ada", ANALYTICS)
    order = msg(
        "track",
        "ada",
        event="Order Completed",
        properties={"order_id": "o-1"},
        timestamp="9999-12-31",
    )
    collect(server, key, {"batch": [order]})
    assert len(times(shop, "ada")) == 1
    advance(shop, 731)  # past the 730 days of purchase history
    with shop.uow() as uow:
        report = sweep(uow, shop.vault, shop.policy, now=shop.clock())
        uow.commit()
    assert report.events_deleted == 1
    assert times(shop, "ada") == []


def test_a_correction_too_large_for_a_date_falls_back_to_the_timestamp_clamped() -> None:
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    far = datetime(9999, 12, 31, tzinfo=UTC)
    assert occurred_at(year_one, far, T0) == year_one
    assert occurred_at(far, year_one, T0) == T0
    assert occurred_at(None, None, T0) == T0
