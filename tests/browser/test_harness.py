"""The browser harness itself: Chromium really runs, axe really judges, the phone is a phone.

These tests hold the tools the portal's and console's tests rely on: if one of them
passed without Chromium rendering anything, or axe finding nothing it should, every
page test built on them would pass for nothing.
"""

from __future__ import annotations

import json
import struct
import subprocess

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.support import (
    ARTIFACTS,
    CHROMIUM,
    PHONE_SCALE,
    AccessibilityViolations,
    assert_accessible,
    assert_fits_viewport,
    screenshot,
)
from tests.conftest import LiveServer
from trustable import __version__
from trustable.consent.gpc import GPC_LAST_UPDATE

PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="
VIEWPORT_META = '<meta name="viewport" content="width=device-width, initial-scale=1">'

CLEAN = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{VIEWPORT_META}<title>Your privacy</title></head>
<body><main>
  <h1>Your privacy</h1>
  <form>
    <label for="email">Email address</label>
    <input id="email" name="email" type="email" autocomplete="email">
    <button type="submit">Send me a code</button>
  </form>
  <img src="{PIXEL}" alt="Trustable">
</main></body></html>"""

BROKEN = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{VIEWPORT_META}<title>Your privacy</title></head>
<body><main>
  <h1>Your privacy</h1>
  <form><input id="email" name="email" type="email"><button>Send</button></form>
  <img class="logo" src="{PIXEL}">
</main></body></html>"""


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, which follows its 8-byte signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_chromium_renders_a_page_of_the_live_server(
    browser: Browser, page: Page, live_server: LiveServer
) -> None:
    response = page.goto(f"{live_server.url}/.well-known/gpc.json")
    assert response is not None and response.status == 200
    # What Chromium rendered, not what the server sent: the JSON shown as the page's text.
    assert json.loads(page.locator("body").inner_text()) == {
        "gpc": True,
        "lastUpdate": GPC_LAST_UPDATE,
    }
    page.goto(f"{live_server.url}/health")
    assert json.loads(page.locator("body").inner_text())["version"] == __version__
    # The browser is Debian's Chromium, not a build of Playwright's.
    shown = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Chromium {browser.version}" in shown


def test_hosts_other_than_this_machine_fail_at_once(page: Page) -> None:
    failures: list[str] = []
    page.on("requestfailed", lambda request: failures.append(request.failure or ""))
    page.set_content('<img alt="" src="https://cdn.example.com/logo.png">')
    assert failures == ["net::ERR_NAME_NOT_RESOLVED"]


def test_assert_accessible_refuses_serious_violations_naming_each(page: Page) -> None:
    page.set_content(BROKEN)
    with pytest.raises(AccessibilityViolations) as caught:
        assert_accessible(page)
    found = {v["id"]: v for v in caught.value.violations}
    assert {"label", "image-alt"} <= set(found)
    assert {v["impact"] for v in found.values()} <= {"serious", "critical"}
    report = str(caught.value)
    assert "- label (critical): Form elements must have labels" in report
    assert "at #email: <input" in report
    assert "- image-alt (critical): Images must have alternative text" in report
    assert "at img: <img" in report


def test_assert_accessible_passes_a_clean_page_even_under_a_strict_csp(page: Page) -> None:
    # A policy that forbids every script: axe must still run, as it will on our pages.
    csp = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
    page.set_content(CLEAN.replace("<title>", csp + "<title>"))
    assert page.evaluate("() => typeof window.axe") == "undefined"
    assert assert_accessible(page) == []
    assert page.evaluate("() => typeof window.axe") == "object"


def test_assert_accessible_refuses_only_the_impacts_asked(page: Page) -> None:
    # Without <main>, axe's "landmark-one-main" and "region" rules break: both moderate.
    page.set_content(CLEAN.replace("<main>", "<div>").replace("</main>", "</div>"))
    tolerated = assert_accessible(page)
    assert {(v["id"], v["impact"]) for v in tolerated} == {
        ("landmark-one-main", "moderate"),
        ("region", "moderate"),
    }
    with pytest.raises(AccessibilityViolations, match=r"- region \(moderate\)"):
        assert_accessible(page, impacts=("moderate", "serious", "critical"))


def test_the_phone_is_375_px_wide_with_touch_and_is_screenshot(phone_page: Page) -> None:
    phone_page.set_content(CLEAN)
    assert phone_page.evaluate("() => window.innerWidth") == 375
    assert phone_page.evaluate("() => matchMedia('(pointer: coarse)').matches")
    assert phone_page.evaluate("() => navigator.maxTouchPoints") > 0
    assert_fits_viewport(phone_page)
    path = screenshot(phone_page, "harness/phone")
    assert path == ARTIFACTS / "harness" / "phone.png"
    width, height = png_size(path.read_bytes())
    assert width == 375 * PHONE_SCALE and height >= 812 * PHONE_SCALE


def test_a_page_without_a_viewport_tag_does_not_fit_the_phone(phone_page: Page) -> None:
    phone_page.set_content(CLEAN.replace(VIEWPORT_META, ""))
    with pytest.raises(AssertionError, match=r"laid out 98\d CSS px wide on a 375 px phone"):
        assert_fits_viewport(phone_page)


def test_a_page_wider_than_the_phone_does_not_fit(phone_page: Page) -> None:
    phone_page.set_content(CLEAN.replace("<h1>", '<h1 id="title" style="width: 600px">'))
    with pytest.raises(AssertionError, match=r"\d+ CSS px wide on a 375 px screen.*: h1#title$"):
        assert_fits_viewport(phone_page)


def test_the_desktop_page_is_1280_px_wide(page: Page) -> None:
    page.set_content(CLEAN)
    assert page.evaluate("() => [window.innerWidth, window.innerHeight]") == [1280, 800]
    assert_fits_viewport(page)
    width, _ = png_size(screenshot(page, "harness/desktop").read_bytes())
    assert width == 1280
