"""`/v1/incidents…` over real HTTP: scope `incidents`, clear refusals, mail by SMTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_key
from tests.incidents.support import T0, shoppers
from tests.mail import Inbox, mailing_shop
from trustable.bootstrap import Trustable
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings


@pytest.fixture
def shop(settings: Settings, inbox: tuple[Inbox, int]) -> Iterator[Trustable]:
    with mailing_shop(settings, inbox[1], FixedClock(T0)) as app:
        yield app


@pytest.fixture
def server(shop: Trustable, live_server_for: Any) -> LiveServer:
    found: LiveServer = live_server_for(shop)
    return found


def incident(**given: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Webhook logs readable by anyone",
        "window_start": (T0 - timedelta(days=1)).isoformat(),
        "window_end": T0.isoformat(),
        "store": "data_store",
        "categories": ["user.contact.email"],
        "exposed": "both",
    }
    body.update(given)
    return body


def test_an_incident_through_the_api(
    shop: Trustable, server: LiveServer, inbox: tuple[Inbox, int]
) -> None:
    shoppers(shop)
    auth = {"Authorization": f"Bearer {make_key(shop, 'incidents')}"}
    created = httpx.post(f"{server.url}/v1/incidents", json=incident(), headers=auth)
    assert created.status_code == 201, created.text
    found = created.json()
    assert found["people"] == 2 and found["risk"] == "high"
    assert [s["step"] for s in found["timeline"]] == ["recorded", "affected"]
    base = f"{server.url}/v1/incidents/{found['incident_id']}"
    affected = httpx.get(f"{base}/affected", headers=auth).json()
    assert {a["notice"] for a in affected} == {"pending"} and len(affected) == 2
    draft = httpx.get(f"{base}/notice", headers=auth).json()
    assert f"{server.url}/portal" in draft["body"]
    early = httpx.post(f"{base}/send", headers=auth)
    assert early.status_code == 409 and early.json()["code"] == "incident_state"
    assert httpx.post(f"{base}/approve", headers=auth).json()["status"] == "approved"
    sent = httpx.post(f"{base}/send", headers=auth, json={})
    assert sent.json() == {"incident_id": found["incident_id"], "sent": 2, "no_email": 0}
    twice = httpx.post(f"{base}/send", headers=auth)
    assert twice.status_code == 409
    assert twice.json()["code"] == "notices_already_sent"
    shop.mailer.flush()
    deadline = time.monotonic() + 5
    while len(inbox[0].messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(m["To"] for m in inbox[0].messages) == ["ada@example.org", "grace@example.org"]
    report = httpx.get(f"{base}/report", headers=auth).json()
    assert report["deadline"] == "2026-11-26T10:00:00.000000Z" and report["overdue"] is False
    assert report["notices"]["sent"] == 2
    submitted = httpx.post(f"{base}/submit", headers=auth, json={})
    assert submitted.json()["report_submitted_at"] is not None
    listed = httpx.get(f"{server.url}/v1/incidents", headers=auth).json()
    assert [i["incident_id"] for i in listed] == [found["incident_id"]]


def test_incidents_need_the_incidents_scope_and_refuse_bad_input(
    shop: Trustable, server: LiveServer
) -> None:
    assert httpx.get(f"{server.url}/v1/incidents").status_code == 401
    other = {"Authorization": f"Bearer {make_key(shop, 'requests')}"}
    assert httpx.get(f"{server.url}/v1/incidents", headers=other).status_code == 403
    auth = {"Authorization": f"Bearer {make_key(shop, 'incidents')}"}
    inverted = httpx.post(
        f"{server.url}/v1/incidents",
        json=incident(
            window_start=T0.isoformat(), window_end=(T0 - timedelta(hours=1)).isoformat()
        ),
        headers=auth,
    )
    assert inverted.status_code == 400
    assert inverted.json()["code"] == "invalid_window"
    assert "inverted" in inverted.json()["message"]
    unknown = httpx.post(
        f"{server.url}/v1/incidents", json=incident(categories=["user.secret"]), headers=auth
    )
    assert unknown.json()["code"] == "unknown_category"
    missing = httpx.get(f"{server.url}/v1/incidents/inc_nothing/report", headers=auth)
    assert missing.status_code == 404
