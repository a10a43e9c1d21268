"""A customer sees the groups they are in, and leaves them with the switch."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.support import assert_accessible, assert_fits_viewport, screenshot
from tests.conftest import LiveServer
from tests.helpers import grant, send
from tests.portal.support import link
from tests.segments.support import PERSONALIZE, customer, rating
from trustable.bootstrap import Trustable


def test_a_customer_sees_their_group_and_leaves_it_by_turning_the_purpose_off(
    phone_page: Page, app: Trustable, live_server: LiveServer
) -> None:
    page = phone_page
    grant(app, "ada", PERSONALIZE)
    send(app, *(rating("ada", movie=str(n), days_ago=n + 1) for n in range(5)))
    page.goto(link(app, live_server, customer(app, "ada")))
    groups = page.locator("#groups")
    expect(page.get_by_role("heading", name="Groups you are in")).to_be_visible()
    expect(groups).to_contain_text("You rated five or more science-fiction films")
    expect(groups).to_contain_text("Used only for: Recommendations made for you")
    assert_accessible(page)
    assert_fits_viewport(page)
    screenshot(page, "portal/groups")

    page.get_by_role("switch", name="Recommendations made for you").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(page.locator("#groups")).to_contain_text("You are in no group at the moment.")
    expect(page.locator(".timeline")).to_contain_text(
        "You left a group used for “Recommendations made for you”, as you turned that off"
    )
    expect(page.locator('.proof[data-state="failed"]')).to_have_count(0)
