"""The analyst's page in a real browser, on a phone: ask, read the table, see the
budget go down; every page passes axe and fits the screen."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.analytics.support import crowd, populate
from tests.browser.support import assert_accessible, assert_fits_viewport, screenshot
from tests.browser.test_console import sign_in
from tests.conftest import LiveServer
from tests.users.support import make_user
from trustable.bootstrap import Trustable


def test_an_analyst_asks_on_a_phone(
    phone_page: Page, app: Trustable, live_server: LiveServer
) -> None:
    make_user(app, "ana", "analyst")
    populate(app, crowd("f", 14, gender="F", age=31) + crowd("m", 12, gender="M", age=45))
    sign_in(phone_page, live_server, "ana")
    phone_page.get_by_role("link", name="Analytics").click()
    expect(phone_page.get_by_role("heading", name="Aggregates")).to_be_visible()
    expect(phone_page.locator("#budget")).to_contain_text("3 of 3 epsilon left")
    assert_accessible(phone_page)
    assert_fits_viewport(phone_page)
    phone_page.get_by_label("Group by").select_option("age")
    phone_page.get_by_label("Private (differential privacy)").check()
    phone_page.get_by_label("Epsilon to spend (at most 1)").fill("0.5")
    phone_page.get_by_role("button", name="Ask").click()
    expect(phone_page.get_by_role("heading", name="Private answer (epsilon 0.5")).to_be_visible()
    expect(phone_page.locator("#budget")).to_contain_text("2.5 of 3 epsilon left")
    expect(phone_page.get_by_text("suppressed (fewer than k)").first).to_be_visible()
    assert_accessible(phone_page)
    assert_fits_viewport(phone_page)
    screenshot(phone_page, "console/analytics-phone")
