"""The console in a real browser: an admin signs in and sees the dashboard's numbers
change as customers arrive and ask; every page passes axe and fits a phone."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.browser.support import assert_accessible, assert_fits_viewport, screenshot
from tests.conftest import LiveServer
from tests.rights.support import customer
from tests.users.support import PASSWORD, make_user
from trustable.bootstrap import Trustable
from trustable.ledger.sequencer import flush


def sign_in(page: Page, server: LiveServer, name: str) -> None:
    page.goto(f"{server.url}/admin")
    assert_accessible(page)
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_sees_the_dashboard_numbers_change(
    page: Page, app: Trustable, live_server: LiveServer
) -> None:
    make_user(app, "root", "admin")
    page.goto(f"{live_server.url}/admin")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong username or password")
    sign_in(page, live_server, "root")
    expect(page.get_by_role("heading", name="Trust dashboard")).to_be_visible()
    expect(page.locator("#fig-customers")).to_have_text("0")
    expect(page.locator("#fig-open")).to_have_text("0")
    assert_accessible(page)
    screenshot(page, "console/dashboard-empty")

    customer(app)
    customer(app, user="bob", email="bob@example.org")
    asked = httpx.post(
        f"{live_server.url}/v1/requests/by-email",
        json={"email": "bob@example.org", "kind": "export"},
    )
    assert asked.status_code == 202
    flush(app)  # the sequencer's round: the log grew
    page.reload()
    expect(page.locator("#fig-customers")).to_have_text("2")
    expect(page.locator("#fig-open")).to_have_text("1")
    ledger = int(page.locator("#fig-ledger").inner_text())
    assert ledger > 2
    expect(page.get_by_role("img", name="Customers who allow each purpose now")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console/dashboard")


def test_a_privacy_officer_works_the_queue_on_a_phone(
    phone_page: Page, app: Trustable, live_server: LiveServer
) -> None:
    make_user(app, "olivia", "privacy_officer")
    customer(app)
    httpx.post(
        f"{live_server.url}/v1/requests/by-email",
        json={"email": "ada@example.org", "kind": "access"},
    )
    sign_in(phone_page, live_server, "olivia")
    phone_page.get_by_role("link", name="Requests").click()
    expect(phone_page.get_by_role("heading", name="Customers' requests")).to_be_visible()
    assert_accessible(phone_page)
    assert_fits_viewport(phone_page)
    phone_page.get_by_label("Reason the customer will read").first.fill("not verified in time")
    phone_page.get_by_role("button", name="Refuse").first.click()
    expect(phone_page.get_by_text("not verified in time")).to_be_visible()
    phone_page.get_by_role("link", name="Policy").click()
    expect(phone_page.get_by_text("keeps every promise of the policy")).to_be_visible()
    assert_accessible(phone_page)
    screenshot(phone_page, "console/policy-phone")
