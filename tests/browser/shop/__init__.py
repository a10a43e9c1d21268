"""A small shop's web site on an origin of its own, for the consent banner's tests.

Its pages embed `/consent.js` with one line, as a shop would, and run the real browser
SDKs (Segment's analytics.js, RudderStack's JavaScript SDK) from the npm registry,
pinned and installed into .cache/npm by `make test`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.browser.support import unavailable

PAGES = Path(__file__).parent
NPM = Path(__file__).resolve().parents[3] / ".cache" / "npm" / "node_modules"
SDKS = {
    "segment": NPM / "@segment" / "analytics-next" / "dist" / "umd",
    "rudderstack": NPM
    / "@rudderstack"
    / "analytics-js"
    / "dist"
    / "npm"
    / "modern"
    / "bundled"
    / "umd",
}


class Shop:
    def __init__(self, url: str, port: int) -> None:
        self.url = url
        self.port = port

    def page(self, name: str) -> str:
        return f"{self.url}/{name}.html"


@contextmanager
def serve_shop(trustable_url: str, write_key: str) -> Iterator[Shop]:
    """Serve the shop's pages, pointing at `trustable_url` with `write_key`."""
    for name, folder in SDKS.items():
        if not (folder / "index.js").exists():
            unavailable(f"the {name} SDK is not in {folder}: run `make test` (it installs it)")
    values = {
        "{{TRUSTABLE}}": trustable_url,
        "{{TRUSTABLE_HOST}}": urlsplit(trustable_url).netloc,
        "{{WRITE_KEY}}": write_key,
    }

    class Handler(SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            parts = urlsplit(path).path.lstrip("/").split("/")
            if parts[0] == "sdk" and len(parts) >= 3 and parts[1] in SDKS:
                return str(SDKS[parts[1]].joinpath(*parts[2:]))
            return str(PAGES / parts[-1])

        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            target = Path(self.translate_path(self.path))
            if target.suffix != ".html":
                super().do_GET()
                return
            if not target.is_file():
                self.send_error(404)
                return
            text = target.read_text(encoding="utf-8")
            for placeholder, value in values.items():
                text = text.replace(placeholder, value)
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Shop(f"http://127.0.0.1:{server.server_port}", server.server_port)
    finally:
        server.shutdown()
        server.server_close()
