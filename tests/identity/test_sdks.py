"""The everyday identity flows of both real Python SDKs, `segment-analytics-python` and
`rudder-sdk-python`, through a web page's public key and the shop backend's key.

Browsing anonymously and then signing in joins the two histories on either key; a
join a public key may not ask for is answered like any other batch (an SDK would
retry an error forever) and left undone; the backend's key makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics import Client as SegmentClient

from tests.conftest import LiveServer, make_key
from trustable.bootstrap import Trustable
from trustable.events.service import customer_events, drop_counts
from trustable.identity.service import find_customer

ORDER = {"order_id": "o-1"}


def segment(key: str, server: LiveServer, failures: list[Exception]) -> Any:
    return SegmentClient(key, host=server.url, sync_mode=True, max_retries=1,
                         on_error=lambda error, _items: failures.append(error))  # fmt: skip


def rudder(key: str, server: LiveServer, failures: list[Exception]) -> Any:
    return RudderClient(key, host=server.url, sync_mode=True, max_retries=1,
                        on_error=lambda error, _items: failures.append(error))  # fmt: skip


SDKS: dict[str, Callable[[str, LiveServer, list[Exception]], Any]] = {
    "segment": segment,
    "rudderstack": rudder,
}


def owner(app: Trustable, kind: str, value: str) -> str | None:
    with app.reader() as uow:
        return find_customer(uow, app.vault, kind, value)


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_browsing_then_signing_in_joins_through_the_public_key(
    app: Trustable, live_server: LiveServer, write_key: str, sdk: str
) -> None:
    failures: list[Exception] = []
    client = SDKS[sdk](write_key, live_server, failures)
    client.page(anonymous_id="anon-1", name="Shoes")
    client.track(anonymous_id="anon-1", event="Order Completed", properties=ORDER)
    client.identify("grace", anonymous_id="anon-1")
    client.track("grace", "Order Completed", {"order_id": "o-2"})
    client.flush()
    assert failures == []
    grace = owner(app, "user_id", "grace")
    assert grace is not None and owner(app, "anonymous_id", "anon-1") == grace
    with app.reader() as uow:
        orders = {
            e.fields.get("properties.order_id") for e in customer_events(uow, app.vault, grace)
        }
    assert {"o-1", "o-2"} <= orders


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_a_join_of_two_users_is_left_undone_on_a_public_key_and_made_on_the_backends(
    app: Trustable, live_server: LiveServer, write_key: str, sdk: str
) -> None:
    failures: list[Exception] = []
    public = SDKS[sdk](write_key, live_server, failures)
    public.track("old-login", "Order Completed", ORDER)
    public.track("new-login", "Order Completed", {"order_id": "o-2"})
    public.alias(previous_id="old-login", user_id="new-login")
    public.flush()
    assert failures == []  # refused without an error: nothing for the SDK to retry
    old, new = owner(app, "user_id", "old-login"), owner(app, "user_id", "new-login")
    assert old is not None and new is not None and old != new
    with app.reader() as uow:
        refused = {(d.field, d.reason): d.count for d in drop_counts(uow)}
    assert refused[("alias", "join_refused_user_id")] == 1

    backend = SDKS[sdk](make_key(app, "collect:server", name="backend"), live_server, failures)
    backend.alias(previous_id="old-login", user_id="new-login")
    backend.flush()
    assert failures == []
    assert owner(app, "user_id", "old-login") == owner(app, "user_id", "new-login") == new
