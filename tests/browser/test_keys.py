"""The API keys page in a real browser: an admin on a phone makes a secret server key,
copies it from the one page that shows it, and revokes it; the page passes axe and
fits the screen."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.support import assert_accessible, assert_fits_viewport, screenshot
from tests.browser.test_console import sign_in
from tests.conftest import LiveServer, make_key
from tests.users.support import make_user
from trustable.bootstrap import Trustable


def test_an_admin_makes_and_revokes_a_key_on_a_phone(
    phone_page: Page, app: Trustable, live_server: LiveServer
) -> None:
    make_user(app, "root", "admin")
    make_key(app, "collect", name="web shop")
    page = phone_page
    sign_in(page, live_server, "root")
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    assert_accessible(page)
    assert_fits_viewport(page)
    screenshot(page, "console/keys-phone")

    page.get_by_label("Who or what uses it").fill("shop backend")
    page.locator('input[value="collect:server"]').check()
    page.get_by_label("Expires").fill("90d")
    page.get_by_role("button", name="Create the key").click()
    expect(page.get_by_role("heading", name="Key “shop backend” was created")).to_be_visible()
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("tk_key_")
    expect(page.get_by_text("This key is secret")).to_be_visible()
    assert_accessible(page)
    assert_fits_viewport(page)
    screenshot(page, "console/keys-created-phone")

    page.get_by_role("button", name="Revoke shop backend").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    assert secret not in page.content()
    expect(page.locator('tr[data-state="revoked"]')).to_have_count(1)
    expect(page.get_by_role("button", name="Revoke web shop")).to_be_visible()
