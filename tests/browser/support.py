"""Helpers for browser tests: where Chromium and axe-core live, screenshots, accessibility.

Playwright drives Debian's Chromium (`/usr/bin/chromium`, or `$TRUSTABLE_CHROMIUM`), not
a browser of its own: `playwright install` downloads a build from a host that machines
reaching only the package registries cannot reach, whereas `apt-get install chromium`
works everywhere Trustable is developed and tested. `make test` installs both Chromium
and axe-core (see the Makefile); a test run without them skips its browser tests on a
developer's machine and fails them under CI=true, where they must run.

Usage, in a test under `tests/browser/` (the fixtures live in its conftest.py):

    def test_portal_home(page: Page, live_server: LiveServer) -> None:
        page.goto(f"{live_server.url}/portal")
        assert_accessible(page)
        screenshot(page, "portal-home")
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import pytest
from playwright.sync_api import Page, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"

CHROMIUM = Path(os.environ.get("TRUSTABLE_CHROMIUM", "/usr/bin/chromium"))
AXE_JS = Path(
    os.environ.get("TRUSTABLE_AXE_JS", ROOT / ".cache/npm/node_modules/axe-core/axe.min.js")
)

# Headless Chromium as a root user in a container with no network but loopback:
# no sandbox (root cannot use it), no GPU, and none of the background services
# (component updates, sync, field trials, safe browsing) that would otherwise wait
# on hosts they cannot reach and slow every launch down. The resolver rule makes any
# host but this machine fail at once (net::ERR_NAME_NOT_RESOLVED) instead of timing
# out, so a page that pulls a script, font or image from a third party shows up as a
# failed request: Trustable's pages must serve everything themselves.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 812}
PHONE_SCALE = 2  # device pixels per CSS pixel, as on most phones: screenshots are 750 wide

SERIOUS: tuple[str, ...] = ("serious", "critical")


def unavailable(reason: str) -> NoReturn:
    """Skip a browser test on a developer's machine; fail it under CI, where it must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}, and CI=true requires the browser tests", pytrace=False)
    pytest.skip(f"{reason} (`make test` installs it)")


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save what `page` shows as tests/artifacts/NAME.png and return the file's path.

    NAME may hold `/` to group files in folders; any other character that is not safe
    in a file name becomes `-`. The whole page is captured unless `full_page=False`,
    so a layout that overflows a phone's screen is visible in the picture.
    """
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "-", part).strip("-.") for part in name.split("/")]
    if not all(parts):
        raise ValueError(f"not a usable screenshot name: {name!r}")
    path = ARTIFACTS.joinpath(*parts).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=full_page, animations="disabled")
    return path


@cache
def _axe_source() -> str:
    if not AXE_JS.is_file():
        unavailable(f"axe-core is not at {AXE_JS}")
    return AXE_JS.read_text(encoding="utf-8")


class AccessibilityViolations(AssertionError):
    """axe-core found violations of the impacts a test refuses; `.violations` holds them."""

    def __init__(self, url: str, violations: list[dict[str, Any]]) -> None:
        self.violations = violations
        lines = [f"{len(violations)} accessibility violation(s) on {url}:"]
        for violation in violations:
            lines.append(
                f"- {violation['id']} ({violation['impact']}): {violation['help']}"
                f" <{violation['helpUrl']}>"
            )
            for node in violation["nodes"]:
                target = " ".join(
                    part if isinstance(part, str) else " >>> ".join(part) for part in node["target"]
                )
                lines.append(f"    at {target}: {node['html']}")
        super().__init__("\n".join(lines))


_RUN_AXE = """async (options) => {
    const results = await window.axe.run(document, options);
    return results.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({target: n.target, html: n.html})),
    }));
}"""


def assert_accessible(page: Page, *, impacts: Sequence[str] = SERIOUS) -> list[dict[str, Any]]:
    """Run axe-core's rules on the page as it is now; raise if any violation has `impacts`.

    axe-core is evaluated into the page through the DevTools protocol rather than as a
    <script> tag, so it runs even under the strict Content-Security-Policy Trustable's
    pages should send. It checks the main document (not iframes), in its current state:
    call it again after opening a dialog or showing an error. Every violation found is
    returned, including those of impacts the test tolerates ("minor", "moderate"), so a
    test can look at them too; the error raised lists, for each refused violation, its
    rule id, impact, what to fix and the CSS selector of each element at fault.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    violations: list[dict[str, Any]] = page.evaluate(_RUN_AXE, {"resultTypes": ["violations"]})
    refused = [v for v in violations if v["impact"] in impacts]
    if refused:
        raise AccessibilityViolations(page.url, refused)
    return violations


_MEASURE = """(screen) => {
    const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
        + [...e.classList].map((c) => "." + c).join("");
    const wide = [...document.body.querySelectorAll("*")].filter(
        (e) => e.getBoundingClientRect().right > screen + 0.5);
    return {
        inner: innerWidth,
        scroll: document.documentElement.scrollWidth,
        meta: document.querySelector('meta[name="viewport"]')?.content ?? null,
        wide: wide.filter((e) => !wide.some((d) => d !== e && e.contains(d))).map(name),
    };
}"""


def assert_fits_viewport(page: Page) -> None:
    """Fail unless the page is laid out at the screen's width, with nothing wider than it.

    On a phone (`is_mobile`), Chromium lays a page without `<meta name="viewport"
    content="width=device-width, initial-scale=1">` out 980 CSS px wide and zooms out
    to show it whole; with the tag but some element wider than the screen, it zooms out
    to fit that element. Either way the text becomes too small to read, and
    `window.innerWidth` is the zoomed-out width: this catches both, naming the
    innermost elements that stick out. On a desktop it catches a sideways scrollbar.
    """
    viewport = page.viewport_size
    assert viewport is not None, "the page has no fixed viewport to fit"
    screen = viewport["width"]
    seen = page.evaluate(_MEASURE, screen)
    width = max(seen["inner"], seen["scroll"])
    if page.evaluate("() => matchMedia('(pointer: coarse)').matches"):
        assert seen["meta"] is not None and "width=device-width" in seen["meta"], (
            f"laid out {width} CSS px wide on a {screen} px phone: the page lacks "
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
        )
    assert width <= screen, (
        f"laid out {width} CSS px wide on a {screen} px screen; wider than the screen: "
        + ", ".join(seen["wide"][:5])
    )
