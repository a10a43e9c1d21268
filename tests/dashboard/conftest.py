"""A Trustable whose clock the test moves, so figures fall on known days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Trustable]:
    trustable = bootstrap(settings, clock=clock)
    yield trustable
    trustable.close()
