"""The portal in a real browser: a customer signs in by link, turns personalization
off, sees the change in the timeline with a proof their browser verified, downloads
the export and erases; every page passes axe and fits a phone."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.browser.support import assert_accessible, assert_fits_viewport, screenshot
from tests.conftest import LiveServer
from tests.helpers import msg, send
from tests.portal.support import link
from tests.rights.support import customer
from trustable.bootstrap import Trustable
from trustable.consent.service import decisions_for
from trustable.ledger.sequencer import flush

PERSONALIZE = "personalize.content.profiled"


def test_a_customer_signs_in_turns_personalization_off_and_sees_it_verified(
    page: Page, app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    page.goto(link(app, live_server, ada))
    expect(page.get_by_role("heading", name="What we hold about you")).to_be_visible()
    expect(page.get_by_text("Ada Lovelace", exact=True)).to_be_visible()
    assert "token" not in page.url  # the link's token left the address bar at once
    switch = page.get_by_role("switch", name="Recommendations made for you")
    expect(switch).to_have_attribute("aria-checked", "true")
    assert_accessible(page)
    screenshot(page, "portal/home")

    switch.click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    switch = page.get_by_role("switch", name="Recommendations made for you")
    expect(switch).to_have_attribute("aria-checked", "false")
    with app.reader() as uow:
        assert PERSONALIZE not in decisions_for(uow, app.policy, [ada]).permitted(ada)

    newest = page.locator(".timeline li").first
    expect(newest).to_contain_text("Your choice for “Recommendations made for you”")
    expect(newest).to_contain_text("withdrawn")
    # Until the sequencer's round the choice is being logged, with nothing to check yet.
    expect(newest.locator(".proof")).to_have_attribute("data-state", "logging")
    expect(newest).to_contain_text("Being logged")
    screenshot(page, "portal/being-logged")
    flush(app)
    page.reload()
    newest = page.locator(".timeline li").first
    expect(newest).to_contain_text("Your choice for “Recommendations made for you”")
    proof = newest.locator(".proof")
    expect(proof).to_have_attribute("data-state", "verified")
    expect(proof).to_contain_text("Verified by your browser")
    failed = page.locator('.proof[data-state="failed"]')
    expect(failed).to_have_count(0)
    screenshot(page, "portal/after-withdrawal")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    exported = json.loads(download.value.path().read_text())
    assert exported["customer_id"] == ada and exported["traits"]

    page.get_by_role("link", name="Erase everything…").click()
    expect(page.get_by_text("It cannot be undone.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("I understand: erase everything, for good").check()
    page.get_by_role("button", name="Erase everything").click()
    expect(page.get_by_role("heading", name="Certificate of erasure")).to_be_visible()
    expect(page.locator("#signature-check")).to_contain_text("Signature checked")
    assert_accessible(page)
    with page.expect_download() as kept:
        page.get_by_role("link", name="Download the signed certificate (JSON)").click()
    certificate = json.loads(kept.value.path().read_text())
    assert certificate["certificate"]["customer"] == ada and certificate["signature"]["value"]
    screenshot(page, "portal/erased")
    page.goto(f"{live_server.url}/portal")
    expect(page.get_by_role("button", name="Email me a code")).to_be_visible()


def test_the_switches_work_from_the_keyboard(
    page: Page, app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    page.goto(link(app, live_server, ada))
    switch = page.get_by_role("switch", name="Recommendations made for you")
    switch.focus()
    page.keyboard.press("Space")
    expect(page.get_by_text("Saved.")).to_be_visible()
    switch = page.get_by_role("switch", name="Recommendations made for you")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("switch", name="Recommendations made for you")).to_have_attribute(
        "aria-checked", "true"
    )


def test_a_trait_holding_a_script_shows_as_text(
    page: Page, app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    send(app, msg("identify", "ada", traits={"name": "<script>window.pwned=1</script>"}))
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.goto(link(app, live_server, ada))
    expect(page.get_by_text("<script>window.pwned=1</script>", exact=True)).to_be_visible()
    assert page.evaluate("() => window.pwned") is None and not alerts


def test_the_portal_fits_a_phone(phone_page: Page, app: Trustable, live_server: LiveServer) -> None:
    ada = customer(app)
    phone_page.goto(link(app, live_server, ada))
    expect(phone_page.get_by_role("heading", name="Your choices")).to_be_visible()
    assert_fits_viewport(phone_page)
    assert_accessible(phone_page)
    screenshot(phone_page, "portal/phone")


def test_the_sign_in_page_is_accessible(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/portal")
    expect(page.get_by_label("Your email address")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Your email address").fill("someone@example.org")
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_label("The code from the email")).to_be_visible()
    assert_accessible(page)
