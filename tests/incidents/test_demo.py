"""The demo shop has a privacy officer, and a simulated breach of its data store finds
the demo's customers: what `trustable demo` offers to walk through in the console."""

from __future__ import annotations

from datetime import timedelta

import httpx
from rich.console import Console

from tests.conftest import LiveServer
from tests.incidents.support import record
from trustable.bootstrap import Trustable
from trustable.demo.shop import DEMO_OFFICER, seed_demo, show_console


def test_the_demo_officer_walks_a_simulated_breach(app: Trustable, live_server: LiveServer) -> None:
    seed_demo(app)
    out = Console(record=True, width=200)
    show_console(out, app, live_server.url)
    printed = out.export_text()
    line = next(x for x in printed.splitlines() if f"user {DEMO_OFFICER}," in x)
    password = line.split("password ")[1].split()[0]
    with httpx.Client(base_url=live_server.url) as browser:
        landed = browser.post(
            "/admin/signin", data={"username": DEMO_OFFICER, "password": password}
        )
        assert landed.status_code == 303
        assert "Record an incident" in browser.get("/admin/incidents").text
    now = app.clock()
    incident = record(
        app,
        window_start=now - timedelta(days=1),
        window_end=now,
        categories=["user.contact.email", "user.behavior"],
    )
    assert incident.people >= 3 and incident.by_category["user.contact.email"] >= 3
