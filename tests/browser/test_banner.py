"""The consent banner in a real browser, on a shop's page that embeds it with one line
and runs the real analytics.js or RudderStack SDK (from npm, pinned)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.shop import Shop, serve_shop
from tests.browser.support import PHONE, assert_accessible, assert_fits_viewport
from tests.conftest import LiveServer
from trustable.bootstrap import Trustable
from trustable.consent.service import consent_history, current_consents
from trustable.events.service import customer_events
from trustable.identity.service import find_customer

ADS = "marketing.advertising.third_party.targeted"
ANALYTICS = "analytics.reporting"
ASKED = (
    "analytics.reporting",
    ADS,
    "marketing.communications.email",
    "personalize.content.profiled",
)
SDKS = ("segment", "rudderstack")
ANONYMOUS_ID = {
    "segment": "() => window.analytics.instance.user().anonymousId()",
    "rudderstack": "() => window.analytics.getAnonymousId()",
}
# Fired without waiting: analytics.js's calls settle only once the event is sent. What
# analytics.js delivered is kept from its own answer (it sends with `fetch(keepalive)`,
# which the browser does not always report to Playwright); RudderStack's requests are
# seen as they go.
SHOPPING = """() => {
    window.delivered = [];
    const keep = (answer) => { if (answer && answer.event) window.delivered.push(answer.event); };
    const a = window.analytics;
    Promise.resolve(a.page()).then(keep);
    Promise.resolve(a.track("Order Completed", {order_id: "o-77", revenue: 25})).then(keep);
    Promise.resolve(a.track("Movie Rated", {movie_id: 50, title: "Dune", rating: 5})).then(keep);
}"""


@pytest.fixture
def shop(live_server: LiveServer, write_key: str) -> Iterator[Shop]:
    with serve_shop(live_server.url, write_key) as served:
        yield served


def _context(browser: Browser, **options: Any) -> BrowserContext:
    options.setdefault("viewport", {"width": 1280, "height": 800})
    options.setdefault("locale", "en-US")
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Pages in contexts of their own (a locale, GPC, a phone), closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> Page:
        gpc = options.pop("gpc", False)
        context = _context(browser, **options)
        if gpc:  # what a browser with Global Privacy Control turned on shows and sends
            context.add_init_script(
                "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl',"
                " {get: () => true, configurable: true})"
            )
            context.set_extra_http_headers({"Sec-GPC": "1"})
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def collection(page: Page, live_server: LiveServer) -> list[Request]:
    """Every event the page sends to Trustable (the banner's own answer not counted)."""
    sent: list[Request] = []

    def seen(request: Request) -> None:
        url = request.url
        if url.startswith(f"{live_server.url}/v1/") and "/v1/consent/" not in url:
            if request.method == "POST":
                sent.append(request)

    page.on("request", seen)
    return sent


def banner(page: Page, title: str = "Your data, your choice") -> Any:
    return page.get_by_role("dialog", name=title)


def accessible(page: Page) -> None:
    """axe on the page once the banner's entrance has finished (mid-fade, its text is
    paler than it will be)."""
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running')")
    assert_accessible(page)


def wait_for(check: Callable[[], Any], what: str, seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {seconds} s for {what}")


def stored_events(app: Trustable, anonymous_id: str) -> list[Any]:
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "anonymous_id", anonymous_id)
        return customer_events(uow, app.vault, customer) if customer else []


def consents(app: Trustable, anonymous_id: str) -> dict[str, tuple[str | None, str | None]]:
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "anonymous_id", anonymous_id)
        assert customer is not None, "no customer holds the page's anonymous id"
        return {
            c.purpose: (c.status, c.method) for c in current_consents(uow, app.policy, customer)
        }


def load_shop(page: Page, shop: Shop, sdk: str) -> None:
    page.goto(shop.page(sdk))
    page.wait_for_function("() => window.analytics !== undefined")


def consent_sent(page: Page, sent: list[Request], sdk: str) -> Any:
    """The consent the SDK told Trustable with its first event."""
    if sdk == "segment":
        page.wait_for_function("() => window.delivered.length > 0")
        return page.evaluate("() => window.delivered[0].context.consent.categoryPreferences")
    body = json.loads(sent[-1].post_data or "{}")  # the last: sent after the choice
    managed = body["context"]["consentManagement"]
    return sorted(managed["allowedConsentIds"]), sorted(managed["deniedConsentIds"])


# ---- with each real SDK ---------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_nothing_is_sent_before_a_choice_and_reject_all_keeps_only_what_needs_none(
    page: Page, app: Trustable, live_server: LiveServer, shop: Shop, sdk: str
) -> None:
    sent = collection(page, live_server)
    load_shop(page, shop, sdk)
    expect(banner(page)).to_be_visible()
    page.evaluate(SHOPPING)
    page.wait_for_timeout(1500)
    assert sent == [], "events left the page before the visitor chose"
    anonymous_id = page.evaluate(ANONYMOUS_ID[sdk])
    assert stored_events(app, anonymous_id) == []
    page.get_by_role("button", name="Reject all").click()
    expect(banner(page)).to_be_hidden()
    anonymous_id = page.evaluate(ANONYMOUS_ID[sdk])
    events = wait_for(lambda: stored_events(app, anonymous_id), "the order to be stored")
    order = next(e for e in events if e.fields.get("event") == "Order Completed")
    assert order.fields["properties.order_id"] == "o-77"  # to run the order: no consent
    assert not any("properties.rating" in e.fields for e in events)
    now = consents(app, anonymous_id)
    assert {now[p][0] for p in ASKED} == {"denied"}
    assert now["essential.service"] == (None, None)
    # An event after the choice says so too.
    page.evaluate("() => { window.analytics.track('Searched', {search: 'dune'}); }")
    if sdk == "segment":
        assert set(consent_sent(page, sent, sdk).values()) == {False}
    else:
        wait_for(lambda: any("Searched" in (r.post_data or "") for r in sent), "the search")
        assert consent_sent(page, sent, sdk) == ([], ["C0002", "C0003", "C0004"])


@pytest.mark.parametrize("sdk", SDKS)
def test_accept_all_keeps_the_fields_and_tells_the_sdk(
    page: Page, app: Trustable, live_server: LiveServer, shop: Shop, sdk: str
) -> None:
    sent = collection(page, live_server)
    load_shop(page, shop, sdk)
    page.evaluate(SHOPPING)
    page.get_by_role("button", name="Accept all").click()
    anonymous_id = page.evaluate(ANONYMOUS_ID[sdk])
    rated = wait_for(
        lambda: [
            e for e in stored_events(app, anonymous_id) if e.fields.get("event") == "Movie Rated"
        ],
        "the rating to be stored",
    )
    assert rated[0].fields["properties.rating"] == 5
    assert consents(app, anonymous_id)[ANALYTICS] == ("granted", "banner")
    page.evaluate("() => { window.analytics.track('Searched', {search: 'dune'}); }")
    if sdk == "segment":
        assert set(consent_sent(page, sent, sdk).values()) == {True}
    else:
        wait_for(lambda: any("Searched" in (r.post_data or "") for r in sent), "the search")
        assert consent_sent(page, sent, sdk) == (["C0002", "C0003", "C0004"], [])
    # Later events carry the choice too, with no banner in the way.
    page.reload()
    page.wait_for_function("() => window.analytics !== undefined")
    expect(banner(page)).to_have_count(0)


# ---- the banner itself ----------------------------------------------------------


def test_choose_opens_a_switch_per_purpose_off_and_shows_the_receipts(
    page: Page, app: Trustable, shop: Shop
) -> None:
    page.goto(shop.page("plain"))
    page.get_by_role("button", name="Choose").click()
    dialog = banner(page)
    switches = dialog.get_by_role("switch")
    expect(switches).to_have_count(len(ASKED))
    for i in range(len(ASKED)):
        expect(switches.nth(i)).not_to_be_checked()  # nothing is on before the visitor says so
    expect(dialog).to_contain_text("What needs no permission")
    expect(dialog).to_contain_text("Running your account and orders")
    expect(dialog).to_contain_text("Needed to provide what you signed up for.")
    dialog.get_by_role("switch", name="Recommendations made for you").check()
    page.evaluate(
        "() => { window.changes = [];"
        " window.trustable.on('change', (c) => window.changes.push(c)); }"
    )
    dialog.get_by_role("button", name="Save my choices").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text("Your choices are saved.")
    chosen = page.evaluate("() => window.trustable.consent")
    assert chosen == {p: p == "personalize.content.profiled" for p in ASKED}
    assert page.evaluate("() => window.changes") == [chosen]
    anonymous_id = page.evaluate("() => localStorage.getItem('trustable.anonymous_id')")
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "anonymous_id", anonymous_id)
        assert customer is not None
        receipts = {r.receipt_id for r in consent_history(uow, customer)}
    # The footer's link opens it again, with the receipts the browser kept.
    page.get_by_role("link", name="Privacy choices").click()
    shown = banner(page).locator(".tb-receipts li")
    expect(shown).to_have_count(len(ASKED))
    texts = shown.all_inner_texts()
    assert {t.rsplit(" · ", 1)[1] for t in texts} == receipts
    assert any(t.startswith("Recommendations made for you: allowed") for t in texts)
    expect(banner(page).get_by_role("link", name="Download your signed receipts")).to_be_visible()
    expect(banner(page).get_by_role("switch", name="Recommendations made for you")).to_be_checked()


def test_gpc_starts_the_purposes_it_covers_off_and_is_recorded_as_gpc(
    open_page: Callable[..., Page], app: Trustable, shop: Shop
) -> None:
    page = open_page(gpc=True)
    page.goto(shop.page("plain"))
    dialog = banner(page)
    expect(dialog).to_contain_text("Ads on other websites: Off, because your browser asks")
    page.get_by_role("button", name="Choose").click()
    expect(dialog.get_by_role("switch", name="Ads on other websites")).not_to_be_checked()
    accessible(page)
    dialog.get_by_role("button", name="Accept all").click()
    expect(page.get_by_role("status")).to_have_text("Your choices are saved.")
    anonymous_id = page.evaluate("() => localStorage.getItem('trustable.anonymous_id')")
    now = consents(app, anonymous_id)
    assert now[ADS] == ("denied", "gpc")
    assert now[ANALYTICS] == ("granted", "banner")


def test_a_new_notice_version_asks_again(
    open_page: Callable[..., Page], app: Trustable, shop: Shop
) -> None:
    page = open_page()
    old = {"version": "2020-01-01", "choices": {p: True for p in ASKED}, "receipts": []}
    page.goto(shop.page("plain"))
    page.get_by_role("button", name="Reject all").click()
    page.reload()
    expect(banner(page)).to_have_count(0)  # answered under this notice: not asked again
    page.evaluate("(old) => localStorage.setItem('trustable.consent', JSON.stringify(old))", old)
    page.reload()
    expect(banner(page)).to_be_visible()
    # An answer under an older notice is not an answer to this one.
    assert page.evaluate("() => Promise.race([window.trustable.consent, 'waiting'])") == "waiting"


def test_german_texts_under_a_german_browser(open_page: Callable[..., Page], shop: Shop) -> None:
    page = open_page(locale="de-DE")
    page.goto(shop.page("plain"))
    dialog = banner(page, "Ihre Daten, Ihre Wahl")
    expect(dialog).to_have_attribute("lang", "de")
    for name in ("Alle akzeptieren", "Alle ablehnen", "Auswählen"):
        expect(dialog.get_by_role("button", name=name)).to_be_visible()
    accessible(page)
    dialog.get_by_role("button", name="Auswählen").click()
    expect(dialog.get_by_role("switch", name="Empfehlungen für Sie")).to_be_visible()
    expect(dialog).to_contain_text("Demo Shop fragt")
    accessible(page)


def test_the_three_choices_weigh_the_same(page: Page, shop: Shop) -> None:
    page.goto(shop.page("plain"))
    looks = page.evaluate(
        """() => [...document.querySelectorAll('#tb-banner .tb-buttons button')].map((b) => {
            const s = getComputedStyle(b);
            return [s.backgroundColor, s.color, s.fontSize, s.fontWeight, b.offsetHeight];
        })"""
    )
    assert len(looks) == 3 and all(look == looks[0] for look in looks)


def test_keyboard_only_focus_moves_in_and_back(page: Page, shop: Shop) -> None:
    page.goto(shop.page("plain"))
    dialog = banner(page)
    expect(dialog).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Accept all")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Choose")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("switch").first).to_be_focused()
    page.keyboard.press("Space")
    expect(dialog.get_by_role("switch").first).to_be_checked()
    dialog.get_by_role("button", name="Save my choices").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    # Opened from the footer: focus goes back to the link afterwards.
    link = page.get_by_role("link", name="Privacy choices")
    link.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_focused()
    dialog.get_by_role("button", name="Reject all").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(link).to_be_focused()


def test_accessible_in_every_state(page: Page, shop: Shop) -> None:
    page.goto(shop.page("plain"))
    expect(banner(page)).to_be_visible()
    accessible(page)
    page.get_by_role("button", name="Choose").click()
    accessible(page)
    page.get_by_role("button", name="Accept all").click()
    expect(page.get_by_role("status")).to_have_text("Your choices are saved.")
    accessible(page)
    page.get_by_role("link", name="Privacy choices").click()
    expect(banner(page).locator(".tb-receipts li")).to_have_count(len(ASKED))
    accessible(page)


def test_on_a_375_px_phone_it_fits_and_stays_usable(phone_page: Page, shop: Shop) -> None:
    phone_page.goto(shop.page("plain"))
    expect(banner(phone_page)).to_be_visible()
    assert_fits_viewport(phone_page)
    accessible(phone_page)
    phone_page.get_by_role("button", name="Choose").click()
    assert_fits_viewport(phone_page)
    save = banner(phone_page).get_by_role("button", name="Save my choices")
    save.scroll_into_view_if_needed()
    box = save.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"] and box["height"] >= 44
    save.tap()
    expect(banner(phone_page)).to_be_hidden()


@pytest.mark.parametrize(("motion", "animation"), [("reduce", "none"), ("no-preference", "tb-in")])
def test_prefers_reduced_motion_turns_the_animation_off(
    open_page: Callable[..., Page], shop: Shop, motion: str, animation: str
) -> None:
    page = open_page(reduced_motion=motion)
    page.goto(shop.page("plain"))
    expect(banner(page)).to_be_visible()
    shown = page.evaluate(
        "() => getComputedStyle(document.getElementById('tb-banner')).animationName"
    )
    assert shown == animation
