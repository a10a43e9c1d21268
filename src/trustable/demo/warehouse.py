"""The demo shop's data warehouse: a destination that runs inside `trustable demo`.

A demo whose destination points nowhere would fill its console with failing
deliveries. So the demo declares one destination, `demo-warehouse`, in a copy of the
policy kept in the demo's home, and answers it itself: a small HTTP receiver on a
free loopback port that takes every delivery (and counts them), for as long as the
demo runs. Deliveries are made by the real worker, signed and consent-filtered as
they would be for a real receiver.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

from trustable.core.settings import Settings, example_policy_path

NAME = "demo-warehouse"
# What the warehouse is for: statistics, so it gets only what that purpose may see.
PURPOSE = "analytics.reporting"
POLICY_FILE = "demo-policy.yaml"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silent: the demo's terminal is for the person trying it."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.received = 0


class Warehouse:
    """The receiver; `start()` it, `url` is where deliveries go, `stop()` ends it."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-warehouse", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/events"

    @property
    def received(self) -> int:
        with self._server.lock:
            return self._server.received

    def start(self) -> Warehouse:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def with_warehouse(settings: Settings, url: str) -> Settings:
    """The settings with the shipped policy plus the warehouse as a destination, in a
    copy written to the demo's home (each run: the receiver's port changes). A policy
    of one's own (`TRUSTABLE_POLICY`) is left as it is."""
    if settings.policy_path != example_policy_path():
        return settings
    spec = yaml.safe_load(settings.policy_path.read_text(encoding="utf-8"))
    spec.setdefault("destinations", {})[NAME] = {"url": url, "purposes": [PURPOSE]}
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / POLICY_FILE
    path.write_text(
        "# Written by `trustable demo`: the shipped policy, and the demo's warehouse.\n"
        + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return replace(settings, policy_path=path)
