"""Browser fixtures: one headless Chromium per test run, a fresh context for each test.

- `browser`: the Playwright `Browser`, launched once for all the tests under
  tests/browser/ (launching takes about a second).
- `page`: a `Page` in a new context at a desktop size (1280 x 800).
- `phone_page`: a `Page` in a new context as a phone: 375 x 812 CSS px, touch, mobile
  layout (so a missing viewport meta tag shows).
- `live_server` (from tests/conftest.py): the real app under uvicorn; here on SQLite only.

Each test's context is closed after it, so cookies, storage and sessions never leak
between tests. When a test that used `page` or `phone_page` fails, what the page showed
is saved as tests/artifacts/failures/<test>.png.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    PHONE_SCALE,
    screenshot,
    unavailable,
)
from tests.conftest import sqlite_settings
from trustable.core.settings import Settings

# Actions and assertions that wait fail after this long instead of Playwright's 30 s:
# everything is served from this machine, so waiting longer only delays the report.
TIMEOUT_MS = 10_000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Browser tests run the live server on SQLite only.

    They test what a person sees and does, which does not depend on the store; running
    them on PostgreSQL too would double the slowest tests in the suite. What the pages
    do on the server (queries, consent changes, requests) is tested on both stores by
    the HTTP tests of each domain, which take the root `settings` fixture.
    """
    return sqlite_settings(tmp_path)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright for every test under tests/browser/.

    Package-scoped rather than session-scoped: while Playwright's sync API is open, it
    marks the main thread as running its asyncio loop, so `asyncio.run()` fails there
    ("cannot be called from a running event loop"). Closing it when the last browser
    test is done keeps that from the rest of the suite. Browser tests themselves must
    not run asyncio code in the main thread (a thread of their own is fine).
    """
    if not CHROMIUM.exists():
        unavailable(f"Chromium is not at {CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        yield chromium
        chromium.close()


def _open(context: BrowserContext) -> Iterator[Page]:
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context, on a desktop screen."""
    yield from _open(browser.new_context(viewport=DESKTOP, locale="en-US"))


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context, on a 375 px wide phone with a touch screen."""
    context = browser.new_context(
        viewport=PHONE,
        screen=PHONE,
        device_scale_factor=PHONE_SCALE,
        is_mobile=True,
        has_touch=True,
        locale="en-US",
    )
    yield from _open(context)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """After a failed test, save a screenshot of each page it used, to see what went wrong."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    if report.when == "call" and report.failed:
        for name in ("page", "phone_page"):
            page = funcargs.get(name)
            if isinstance(page, Page) and not page.is_closed():
                slug = re.sub(r"[^A-Za-z0-9._-]+", "-", item.nodeid.split("::", 1)[-1])
                try:
                    path = screenshot(page, f"failures/{slug}-{name}")
                except PlaywrightError as exc:  # a crashed page has nothing to show
                    report.sections.append(("screenshot", f"{name}: none ({exc.message})"))
                else:
                    report.sections.append(("screenshot", f"{name}: {path}"))
    return report
