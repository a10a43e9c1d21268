"""Incidents Trustable refuses, each with a message that says what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.incidents.support import T0, record
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.errors import TrustableError
from trustable.core.settings import Settings
from trustable.incidents.service import (
    IncidentRefused,
    InvalidExposure,
    InvalidWindow,
    UnknownCategory,
    UnknownDestination,
    UnknownStore,
    list_incidents,
)


@pytest.fixture
def shop(settings: Settings) -> Iterator[Trustable]:
    app = bootstrap(replace(settings), clock=FixedClock(T0))
    yield app
    app.close()


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        ({"window_start": T0, "window_end": T0}, InvalidWindow, "window is empty"),
        (
            {"window_start": T0, "window_end": T0 - timedelta(hours=1)},
            InvalidWindow,
            "window is inverted",
        ),
        (
            {"window_end": T0 + timedelta(hours=2)},
            InvalidWindow,
            "window ends after the discovery",
        ),
        (
            {"discovered_at": T0 + timedelta(days=1), "window_end": T0 + timedelta(hours=1)},
            InvalidWindow,
            "discovered in the future",
        ),
        ({"window_start": T0.replace(tzinfo=None)}, InvalidWindow, "needs a time zone"),
        ({"store": "s3_bucket"}, UnknownStore, "unknown store 's3_bucket': choose one of"),
        ({"categories": []}, UnknownCategory, "at least one category"),
        ({"categories": ["  "]}, UnknownCategory, "at least one category"),
        (
            {"categories": ["user.contact.emial"]},
            UnknownCategory,
            "did you mean 'user.contact.email'",
        ),
        ({"store": "destination"}, UnknownDestination, "name the destination"),
        (
            {"store": "destination", "destination": "crm", "exposed": "cleartext"},
            UnknownDestination,
            "unknown destination 'crm'",
        ),
        ({"destination": "crm"}, UnknownDestination, "only when the store is 'destination'"),
        ({"exposed": "everything"}, InvalidExposure, "unknown exposure"),
        ({"exposed": "cleartext"}, InvalidExposure, "keys never sit beside it"),
        ({"store": "key_store", "exposed": "ciphertext"}, InvalidExposure, "holds keys"),
        ({"title": " "}, IncidentRefused, "title"),
    ],
)
def test_a_bad_incident_is_refused_clearly_and_nothing_is_recorded(
    shop: Trustable, given: dict[str, Any], error: type[TrustableError], message: str
) -> None:
    with pytest.raises(error, match=message) as refused:
        record(shop, **given)
    assert refused.value.status == 400
    with shop.reader() as uow:
        assert list_incidents(uow) == []
