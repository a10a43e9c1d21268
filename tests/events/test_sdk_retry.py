"""What the real SDKs do with a 503: they keep the batch and send it again, and
Trustable stores it once.

The worst case is staged for real: a front on loopback passes the first batch on to
Trustable, which stores it, and then answers the SDK 503 `store_unavailable` with
`Retry-After` as Trustable does when its database drops the connection after the
commit. segment-analytics-python waits what `Retry-After` asks, rudder-sdk-python its
own backoff; both send the same messages (same message ids) again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics import Client as SegmentClient

from tests.conftest import LiveServer, free_port
from trustable.bootstrap import Trustable
from trustable.events.service import customer_events
from trustable.identity.service import find_customer


class LostAnswerFront:
    """Forwards every request to Trustable; the first answer is replaced by a 503."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.posts: list[tuple[float, int]] = []  # (when, status answered)
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                passed = httpx.post(front.target + self.path, content=body, headers=headers)
                lost = not front.posts
                status = 503 if lost else passed.status_code
                answer = (
                    orjson.dumps({"code": "store_unavailable", "message": "try again"})
                    if lost
                    else passed.content
                )
                front.posts.append((time.monotonic(), status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                if lost:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LostAnswerFront:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def front(live_server: LiveServer) -> Iterator[LostAnswerFront]:
    with LostAnswerFront(live_server.url) as made:
        yield made


def segment(key: str, url: str, failures: list[Exception]) -> Any:
    return SegmentClient(key, host=url, max_retries=3,
                         on_error=lambda error, _items: failures.append(error))  # fmt: skip


def rudder(key: str, url: str, failures: list[Exception]) -> Any:
    return RudderClient(key, host=url, max_retries=3,
                        on_error=lambda error, _items: failures.append(error))  # fmt: skip


SDKS: dict[str, Callable[[str, str, list[Exception]], Any]] = {
    "segment": segment,
    "rudderstack": rudder,
}


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_batch_sent_again_after_a_503_is_stored_once(
    app: Trustable, front: LostAnswerFront, server_key: str, sdk: str
) -> None:
    failures: list[Exception] = []
    client = SDKS[sdk](server_key, front.url, failures)
    for n in range(3):
        client.track("ada", "Order Completed", {"order_id": f"o-{n}"})
    client.flush()
    client.shutdown()
    assert failures == []
    assert [status for _, status in front.posts] == [503, 200]
    if sdk == "segment":  # it honours Retry-After
        assert front.posts[1][0] - front.posts[0][0] >= 0.9
    with app.reader() as uow:
        ada = find_customer(uow, app.vault, "user_id", "ada")
        assert ada is not None
        kept = [e.fields["properties.order_id"] for e in customer_events(uow, app.vault, ada)]
    assert sorted(kept) == ["o-0", "o-1", "o-2"]
