"""A simulated breach in a real browser: a privacy officer records it, sees who is
affected, approves and sends the notices and submits the report, all from the console;
every page passes axe, and the countdown to the 72-hour deadline shows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import assert_accessible, assert_fits_viewport, screenshot
from tests.browser.test_console import sign_in
from tests.conftest import LiveServer
from tests.incidents.support import record
from tests.mail import Inbox, mailing_shop
from tests.rights.support import customer
from tests.users.support import make_user
from trustable.bootstrap import Trustable
from trustable.core.settings import Settings


@pytest.fixture
def app(settings: Settings, inbox: tuple[Inbox, int]) -> Iterator[Trustable]:
    """The shop, mailing through a real SMTP server on loopback."""
    with mailing_shop(settings, inbox[1]) as app:
        yield app


def test_a_breach_from_record_to_report_in_the_console(
    page: Page, app: Trustable, live_server: LiveServer, inbox: tuple[Inbox, int]
) -> None:
    make_user(app, "olivia", "privacy_officer")
    customer(app)
    customer(app, user="bob", email="bob@example.org")
    sign_in(page, live_server, "olivia")
    page.get_by_role("link", name="Incidents").click()
    expect(page.get_by_role("heading", name="Incidents", exact=True)).to_be_visible()
    assert_accessible(page)
    # The form takes whole seconds: wait for the next one, so that the window's end,
    # cut to the second, is not before the customers' data was stored.
    time.sleep(1 - datetime.now(UTC).microsecond / 1e6)
    now = datetime.now(UTC).replace(microsecond=0)
    page.get_by_label("What happened, in a line").fill("Database snapshot on a public bucket")
    page.get_by_label("Exposed from (UTC)").fill(f"{now - timedelta(days=1):%Y-%m-%dT%H:%M:%S}")
    page.get_by_label("Exposed until (UTC, at the latest the discovery)").fill(
        f"{now:%Y-%m-%dT%H:%M:%S}"
    )
    page.get_by_label("What was exposed").select_option("data_store")
    page.get_by_label("What left").select_option("cleartext")
    page.get_by_label("Email address user.contact.email", exact=True).check()
    page.get_by_label("What was done about it").fill("We removed the copy and replaced every key.")
    page.get_by_role("button", name="Record and compute who is affected").click()
    # A combination that cannot be: said beside the field, on the same page, input kept.
    left = page.get_by_label("What left")
    expect(left).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#exposed-error")).to_contain_text("keys never sit beside it")
    expect(page.get_by_role("alert")).to_be_focused()
    expect(page.get_by_label("What happened, in a line")).to_have_value(
        "Database snapshot on a public bucket"
    )
    expect(page.get_by_label("Email address user.contact.email", exact=True)).to_be_checked()
    assert_accessible(page)
    screenshot(page, "console/incident-form-refused")
    left.select_option("both")
    page.get_by_role("button", name="Record and compute who is affected").click()

    expect(page.get_by_role("heading", name="Database snapshot on a public bucket")).to_be_visible()
    expect(page.locator(".figures dd").first).to_have_text("2")
    countdown = page.locator(".notice .countdown")
    expect(countdown).to_contain_text(" min left")
    assert countdown.inner_text().startswith(("71 h", "72 h"))
    assert_accessible(page)
    screenshot(page, "console/incident-recorded")

    page.get_by_role("button", name="Approve the notices").click()
    page.get_by_role("button", name="Send 2 notices by email").click()
    expect(page.get_by_text("Sent: 2 by email")).to_be_visible()
    page.get_by_role("button", name="Mark the report as submitted").click()
    expect(page.locator(".notice")).to_contain_text("submitted on time")
    timeline = page.locator(".timeline")
    for step in ("recorded", "affected", "notices approved", "notices sent", "report submitted"):
        expect(timeline).to_contain_text(step)
    assert_accessible(page)
    screenshot(page, "console/incident-reported")
    app.mailer.flush()
    deadline = time.monotonic() + 5
    while len(inbox[0].messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(m["To"] for m in inbox[0].messages) == ["ada@example.org", "bob@example.org"]


def test_an_incident_reads_on_a_phone(
    phone_page: Page, app: Trustable, live_server: LiveServer
) -> None:
    make_user(app, "olivia", "privacy_officer")
    customer(app)
    incident = record(app, categories=["user.contact.email", "user.behavior.media_consumption"])
    sign_in(phone_page, live_server, "olivia")
    phone_page.goto(f"{live_server.url}/admin/incidents")
    assert_accessible(phone_page)
    assert_fits_viewport(phone_page)
    phone_page.goto(f"{live_server.url}/admin/incidents/{incident.incident_id}")
    expect(phone_page.locator(".notice .countdown")).to_contain_text(" min left")
    assert_accessible(phone_page)
    assert_fits_viewport(phone_page)
    screenshot(phone_page, "console/incident-phone")
