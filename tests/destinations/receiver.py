"""A real HTTP receiver on loopback that fails on purpose, for delivery tests."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each request with the next scripted behaviour ("ok" once the script ends):
    "ok", "500", "slow" (answers after `slow_seconds`), "garbage" (not HTTP at all)."""

    port: int
    script: deque[str] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    slow_seconds: float = 2.0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                action = receiver.script.popleft() if receiver.script else "ok"
                receiver.received.append(Received(dict(self.headers.items()), body))
                if action == "garbage":
                    self.wfile.write(b"\x00\x01 not http at all\r\n\r\n")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if action == "slow":
                    time.sleep(receiver.slow_seconds)
                status = 500 if action == "500" else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
