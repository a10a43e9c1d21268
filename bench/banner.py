"""The consent banner: its size, how soon it shows, and its endpoint's latency.

1. `/consent.js` as served, gzipped (the shipped policy's words in English and German
   inside): judged against 20 KiB.
2. Time from the script's arrival to the banner shown, in Chromium: a shop page on its
   own origin embeds the one line; the Performance API gives the script's
   `responseEnd` and the banner's `trustable:banner-shown` mark, `loads` times, each in
   a fresh browser context (nothing remembered): p50, p95 (judged, 50 ms).
3. `POST /v1/consent/choices` (every purpose answered, a new anonymous visitor each
   time, so a customer is created and four records signed) by one client over HTTP
   against `python -m trustable serve`: p50, p99 (judged, 10 ms), on SQLite and, when
   reachable, PostgreSQL.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.http_load import trustable_serve
from bench.report import Figure, Latencies
from bench.world import Store, new_store, postgres_store
from trustable.access.service import create_key

TARGET_SIZE_BYTES = 20 * 1024
TARGET_SHOWN_P95_MS = 50.0
TARGET_ENDPOINT_P99_MS = 10.0
CHROMIUM = Path(os.environ.get("TRUSTABLE_CHROMIUM", "/usr/bin/chromium"))
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title>
<script src="{url}/consent.js" data-write-key="{key}" async></script>
</head><body><main><h1>Shop</h1></main></body></html>"""
SHOWN = """() => {
    const script = performance.getEntriesByType("resource")
        .find((e) => e.name.endsWith("/consent.js"));
    const shown = performance.getEntriesByName("trustable:banner-shown")[0];
    return [script.responseEnd, shown.startTime];
}"""


@dataclass(frozen=True)
class BannerResult:
    script_bytes: int
    script_gzipped: int
    shown: Latencies
    endpoint: dict[str, Latencies]


def measure(
    home: Path,
    *,
    loads: int,
    answers: int,
    postgres_url: str | None,
    progress: Callable[[str], None],
) -> BannerResult:
    store = new_store(home / "sqlite")
    key = _write_key(store)
    endpoint: dict[str, Latencies] = {}
    with trustable_serve(store, home / "serve.log", "--no-worker") as (url, _):
        plain = httpx.get(f"{url}/consent.js")
        packed = httpx.get(f"{url}/consent.js", headers={"Accept-Encoding": "gzip"})
        progress(f"  banner shown, {loads} page loads in Chromium")
        shown = _shown(url, key, loads)
        progress(f"  {answers} answers to the banner, SQLite")
        endpoint["SQLite"] = _answers(url, key, answers)
    if postgres_url is not None:
        with postgres_store(home / "pg", postgres_url) as pg:
            pg_key = _write_key(pg)
            with trustable_serve(pg, home / "serve-pg.log", "--no-worker") as (url, _):
                progress(f"  {answers} answers to the banner, PostgreSQL")
                endpoint["PostgreSQL"] = _answers(url, pg_key, answers)
    return BannerResult(len(plain.content), packed.num_bytes_downloaded, shown, endpoint)


def _write_key(store: Store) -> str:
    app = store.open()
    try:
        with app.uow() as uow:
            _, key = create_key(uow, app.policy, name="banner", scopes=["collect"], now=app.clock())
            uow.commit()
        return key
    finally:
        app.close()


@contextmanager
def _shop(url: str, key: str) -> Iterator[str]:
    body = PAGE.format(url=url, key=key).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def _shown(url: str, key: str, loads: int) -> Latencies:
    from playwright.sync_api import sync_playwright

    samples: list[float] = []
    with _shop(url, key) as page_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            for n in range(loads + 3):
                context = browser.new_context()
                page = context.new_page()
                page.goto(page_url)
                page.wait_for_function(
                    "() => performance.getEntriesByName('trustable:banner-shown').length"
                )
                arrived, shown = page.evaluate(SHOWN)
                context.close()
                if n >= 3:  # the first loads warm the browser
                    samples.append(shown - arrived)
        finally:
            browser.close()
    return Latencies(samples)


def _answers(url: str, key: str, count: int) -> Latencies:
    choices = {
        "analytics.reporting": True,
        "marketing.advertising.third_party.targeted": False,
        "marketing.communications.email": False,
        "personalize.content.profiled": True,
    }
    samples: list[float] = []
    with httpx.Client(base_url=url, auth=(key, ""), timeout=10) as client:
        for n in range(count + 50):
            body = {"anonymous_id": str(uuid.uuid4()), "choices": choices}
            start = time.perf_counter()
            answer = client.post("/v1/consent/choices", json=body)
            took = (time.perf_counter() - start) * 1000
            if answer.status_code != 200:
                raise RuntimeError(f"the banner's endpoint answered {answer.status_code}")
            if n >= 50:  # warm-up
                samples.append(took)
    return Latencies(samples)


def figures(result: BannerResult) -> list[Figure]:
    out = [
        Figure(
            "consent.js gzipped (English and German)",
            result.script_gzipped / 1024,
            TARGET_SIZE_BYTES / 1024,
            "KiB",
            higher_is_better=False,
        ),
        Figure(
            "banner shown after its script arrives, p95 (Chromium)",
            result.shown.at(0.95),
            TARGET_SHOWN_P95_MS,
            "ms",
            higher_is_better=False,
        ),
    ]
    for store, found in result.endpoint.items():
        out.append(
            Figure(
                f"POST /v1/consent/choices, p99 ({store})",
                found.at(0.99),
                TARGET_ENDPOINT_P99_MS,
                "ms",
                higher_is_better=False,
            )
        )
    return out


def render(result: BannerResult) -> list[str]:
    def row(name: str, found: Latencies) -> str:
        return (
            f"| {name} | {len(found.samples_ms):,} | {found.at(0.5):.2f} | "
            f"{found.at(0.95):.2f} | {found.at(0.99):.2f} | {max(found.samples_ms):.2f} |"
        )

    return [
        "",
        "## 17. The consent banner",
        "",
        f"`/consent.js` with the shipped policy: {result.script_bytes:,} bytes, "
        f"{result.script_gzipped:,} gzipped (target 20 KiB). Shown: a shop page on its own "
        "origin embeds the one line; Chromium (headless, a fresh context each load) reports "
        "the script's `responseEnd` and the banner's `trustable:banner-shown` mark. Answers: "
        "one client, keep-alive, a new anonymous visitor each time (a customer created, four "
        "consent records and receipts), against `python -m trustable serve`.",
        "",
        "| what | samples | p50 ms | p95 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
        row("script arrived → banner shown", result.shown),
        *(row(f"POST /v1/consent/choices, {s}", f) for s, f in result.endpoint.items()),
    ]
