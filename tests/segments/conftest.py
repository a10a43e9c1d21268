from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import LiveServer
from tests.segments.support import NOW, SEGMENTS, with_segments
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.policy.service import parse_policy


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Trustable]:
    """Trustable on the example policy with two segments: sci-fi fans (an event rule,
    for recommendations) and grown-ups (a trait rule, for statistics)."""
    app = bootstrap(settings, clock=clock)
    app.policy = parse_policy(with_segments(SEGMENTS))
    yield app
    app.close()


@pytest.fixture
def server(shop: Trustable, live_server_for: Callable[[Trustable], LiveServer]) -> LiveServer:
    return live_server_for(shop)
