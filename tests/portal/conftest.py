"""Browser-like HTTP clients for portal tests, closed when the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import LiveServer
from tests.portal.support import signed_in
from trustable.bootstrap import Trustable


@pytest.fixture
def sign_in(app: Trustable, live_server: LiveServer) -> Iterator[Callable[[str], httpx.Client]]:
    opened: list[httpx.Client] = []

    def open_(customer_id: str) -> httpx.Client:
        client = signed_in(app, live_server, customer_id)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        client.close()


@pytest.fixture
def anonymous(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A browser with no session yet."""
    with httpx.Client(base_url=live_server.url) as client:
        yield client
