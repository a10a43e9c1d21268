"""The demo shop has a privacy officer, and a simulated breach of its data store finds
the demo's customers: what `trustable demo` offers to walk through in the console."""

from __future__ import annotations

from datetime import timedelta

import httpx
from rich.console import Console

from tests.conftest import LiveServer
from tests.incidents.support import record
from trustable.bootstrap import Trustable
from trustable.demo.shop import DEMO_ANALYST, DEMO_OFFICER, seed_demo, show_console, show_mail


def test_the_demo_officer_walks_a_simulated_breach(app: Trustable, live_server: LiveServer) -> None:
    seed_demo(app, customers=0)
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


def test_the_demo_analyst_is_refused_a_shop_smaller_than_k(
    app: Trustable, live_server: LiveServer
) -> None:
    seed_demo(app, customers=0)
    out = Console(record=True, width=200)
    show_console(out, app, live_server.url)
    line = next(x for x in out.export_text().splitlines() if f"user {DEMO_ANALYST}," in x)
    password = line.split("password ")[1].split()[0]
    with httpx.Client(base_url=live_server.url) as browser:
        landed = browser.post(
            "/admin/signin", data={"username": DEMO_ANALYST, "password": password}
        )
        assert landed.status_code == 303
        form = browser.get("/admin/analytics")
        assert form.status_code == 200
        assert browser.get("/admin/incidents").status_code == 403
        token = form.text.split('name="csrf" value="')[1].split('"')[0]
        answer = browser.post(
            "/admin/analytics",
            data={"csrf": token, "measure": "count", "of": "customers", "group_by": "gender"},
        )
        # Eight customers are fewer than k: the whole query is refused, and says why.
        assert answer.status_code == 422
        assert "counts fewer than 10 customers" in answer.text
        assert '<td data-label="value">' not in answer.text


def test_the_demo_says_where_its_mail_goes(app: Trustable) -> None:
    out = Console(record=True, width=200)
    show_mail(out, app)
    assert str(app.settings.mail.pickup_dir or app.settings.mail.smtp_host) in out.export_text()
