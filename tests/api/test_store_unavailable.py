"""A data store out of reach answers 503 with `Retry-After`, logs one line without a
traceback or anything of the request, and the service serves again once it is back.

The database is really cut off: Trustable reaches PostgreSQL through a TCP relay
(tests/relay.py) that drops every connection and stops listening, and its server
connections are really terminated (`pg_terminate_backend`) from a second session.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from tests.relay import Relay
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings
from trustable.events.service import customer_events
from trustable.identity.service import find_customer
from trustable.storage.engine import make_engine


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def relayed(postgres_settings: Settings) -> Iterator[tuple[Trustable, Relay]]:
    """Trustable whose data store is reached through a relay the test can cut (a
    database server to lose is PostgreSQL's; SQLite is a local file)."""
    settings = postgres_settings
    url = make_url(settings.database_url)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432)).start()
    through = url.set(host="127.0.0.1", port=relay.port)
    app = bootstrap(replace(settings, database_url=through.render_as_string(False)))
    yield app, relay
    relay.cut()
    app.close()


def order(user: str) -> dict[str, Any]:
    return msg("track", user, event="Order Completed", properties={"order_id": "o-1"})


def stored(app: Trustable, user: str) -> list[str]:
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", user)
        assert customer is not None
        return [e.message_id for e in customer_events(uow, app.vault, customer)]


def test_a_lost_database_answers_503_with_retry_after_and_service_resumes(
    relayed: tuple[Trustable, Relay],
    live_server_for: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, relay = relayed
    key = make_key(app, "collect:server", name="backend")
    server: LiveServer = live_server_for(app)
    before = httpx.post(
        f"{server.url}/v1/batch", json={"batch": [order("ada")]}, headers=basic(key), timeout=30
    )
    assert before.status_code == 200, before.text

    relay.cut()
    caplog.clear()
    batch = {"batch": [order("grace-hopper")]}
    with caplog.at_level(logging.INFO):
        down = httpx.post(f"{server.url}/v1/batch", json=batch, headers=basic(key), timeout=30)
        page = httpx.get(f"{server.url}/portal", timeout=30)
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "2"
    assert down.json()["code"] == "store_unavailable"
    assert page.status_code == 503 and page.headers["Retry-After"] == "2"
    assert page.headers["content-type"].startswith("text/html")
    # One line per answer, at error level, naming the failure; no traceback anywhere,
    # nothing the request carried.
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in loud] == ["trustable.api", "trustable.api"]
    assert all("OperationalError" in r.getMessage() for r in loud)
    assert all(r.exc_info is None and r.exc_text is None for r in caplog.records)
    assert "grace-hopper" not in caplog.text and key not in caplog.text

    relay.start()
    # The SDK sends the same batch again after Retry-After: it lands, once.
    again = httpx.post(f"{server.url}/v1/batch", json=batch, headers=basic(key), timeout=30)
    assert again.status_code == 200, again.text
    assert again.json()["stored"] == 1
    assert stored(app, "grace-hopper") == [batch["batch"][0]["messageId"]]


def test_connections_terminated_by_the_server_are_replaced_unseen(
    postgres_settings: Settings, live_server_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A database restart or an administrator ends every server connection of the
    pool: the next requests get fresh connections and succeed."""
    settings = postgres_settings
    name = f"trustable_{secrets.token_hex(4)}"
    url = make_url(settings.database_url).update_query_dict({"application_name": name})
    app = bootstrap(replace(settings, database_url=url.render_as_string(False)))
    try:
        key = make_key(app, "collect:server", name="backend")
        server: LiveServer = live_server_for(app)
        for n in range(3):
            sent = httpx.post(
                f"{server.url}/v1/batch",
                json={"batch": [order(f"user-{n}")]},
                headers=basic(key),
                timeout=30,
            )
            assert sent.status_code == 200, sent.text
        admin = make_engine(settings.keystore_url)
        try:
            with admin.begin() as conn:
                ended = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": name},
                ).scalar_one()
        finally:
            admin.dispose()
        assert ended >= 1
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            for n in range(3, 6):
                sent = httpx.post(
                    f"{server.url}/v1/batch",
                    json={"batch": [order(f"user-{n}")]},
                    headers=basic(key),
                    timeout=30,
                )
                assert sent.status_code == 200, sent.text
        assert [r for r in caplog.records if r.name.startswith("trustable")] == []
        assert len(stored(app, "user-5")) == 1
    finally:
        app.close()
