"""What is kept of every kind of call from both real Python SDKs,
`segment-analytics-python` and `rudder-sdk-python`, pointed at a live Trustable.

The two put the same call on the wire differently: Segment sends identify traits in
`traits`, RudderStack only in `context.traits` (Segment's spec allows `context.traits`
on any call). Both are the tracking plan's `traits.X`, so a shop keeps the same
profile whichever SDK it uses, and nothing the plan allows is counted as dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics import Client as SegmentClient

from tests.conftest import LiveServer
from tests.helpers import msg, send
from trustable.bootstrap import Trustable
from trustable.events.segment import parse_batch
from trustable.events.service import customer_events, customer_traits, drop_counts
from trustable.identity.service import find_customer

Factory = Callable[..., Any]
SDKS: dict[str, Factory] = {"segment": SegmentClient, "rudderstack": RudderClient}


# Ada allows analytics in the shop's banner, as each SDK carries it.
BANNER: dict[str, dict[str, Any]] = {
    "segment": {"consent": {"categoryPreferences": {"Analytics": True}}},
    "rudderstack": {"consentManagement": {"allowedConsentIds": ["C0002"]}},
}


def client(sdk: str, key: str, server: LiveServer, failures: list[Exception]) -> Any:
    return SDKS[sdk](key, host=server.url, sync_mode=True, max_retries=1,
                     on_error=lambda error, _items: failures.append(error))  # fmt: skip


def customer_of(app: Trustable, kind: str, value: str) -> str | None:
    with app.reader() as uow:
        return find_customer(uow, app.vault, kind, value)


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_every_call_keeps_what_the_plan_allows(
    app: Trustable, live_server: LiveServer, write_key: str, server_key: str, sdk: str
) -> None:
    failures: list[Exception] = []
    web = client(sdk, write_key, live_server, failures)
    web.identify(
        "ada",
        traits={"firstName": "Ada", "zip": "94043", "email": "ada@example.org", "mood": "?"},
        anonymous_id="anon-ada",
        context=BANNER[sdk],
    )
    web.track(
        "ada",
        "Order Completed",
        {"order_id": "o-1", "total": 38.25, "coupon": "X"},
        context={"traits": {"lastName": "Lovelace"}},
    )
    web.page("ada", "Shop", "Shoes", {"path": "/shoes"})
    web.group("ada", "acme", traits={"name": "Acme Ltd", "plan": "pro"})
    web.flush()
    backend = client(sdk, server_key, live_server, failures)
    backend.track("ada-old-login", "Order Completed", {"order_id": "o-0"})
    backend.alias(previous_id="ada-old-login", user_id="ada")
    backend.flush()
    assert failures == []

    ada = customer_of(app, "user_id", "ada")
    assert ada is not None
    # The alias from the shop's backend joined the old login's history to Ada's.
    assert customer_of(app, "user_id", "ada-old-login") == ada
    assert customer_of(app, "anonymous_id", "anon-ada") == ada
    # The web page's key only claimed the address; the backend's identify makes it a
    # contact, whichever place the SDK put the trait in.
    assert customer_of(app, "email", "ada@example.org") is None
    backend.identify("ada", traits={"email": "ada@example.org"})
    backend.flush()
    assert failures == []
    assert customer_of(app, "email", "ada@example.org") == ada
    with app.reader() as uow:
        traits = customer_traits(uow, app.vault, ada)
        kept = customer_events(uow, app.vault, ada)
        drops = {(d.field, d.reason): d.count for d in drop_counts(uow)}
    # The profile is the identify call's traits, wherever the SDK put them.
    assert traits == {"firstName": "Ada", "zip": "94043", "email": "ada@example.org"}
    orders = {e.fields.get("properties.order_id"): e.fields for e in kept if e.type == "track"}
    assert set(orders) == {"o-0", "o-1"}
    # A trait sent along with a track call is kept on that event, as `traits.X`.
    assert orders["o-1"] == {
        "event": "Order Completed",
        "properties.order_id": "o-1",
        "properties.total": 38.25,
        "traits.lastName": "Lovelace",
    }
    stored = {e.type: e.fields for e in kept if e.type != "track"}
    assert stored["page"] == {
        "name": "Shoes",
        "category": "Shop",
        "properties.path": "/shoes",
    }
    # The group's traits the plan knows are kept; its id is not in the plan.
    assert stored["group"] == {"traits.name": "Acme Ltd", "traits.plan": "pro"}
    assert drops[("groupId", "not_in_tracking_plan")] == 1
    # Only what the plan does not know is counted as not in it: the made-up trait,
    # the coupon and the SDK's own library name and version.
    unknown = {name for name, reason in drops if reason == "not_in_tracking_plan"}
    assert unknown == {
        "traits.mood",
        "properties.coupon",
        "groupId",
        "context.library.name",
        "context.library.version",
    }
    assert drops[("traits.mood", "not_in_tracking_plan")] == 1


def test_top_level_traits_win_over_the_same_traits_in_context(app: Trustable) -> None:
    both = msg(
        "identify",
        "grace",
        traits={"firstName": "Grace", "address": {"city": "Arlington"}},
        context={"traits": {"firstName": "G.", "zip": "22201", "address": {"street": "1 Main"}}},
    )
    (message,) = parse_batch({"batch": [both]}, single_type=None, received_at=app.clock()).messages
    # Trait by trait, the explicit one wins whole (no address mixed of both); a trait
    # only the context has is taken from there.
    assert {k: v for k, v in message.fields.items() if k.startswith("traits.")} == {
        "traits.firstName": "Grace",
        "traits.address.city": "Arlington",
        "traits.zip": "22201",
    }
    assert not any(k.startswith("context.traits") for k in message.fields)
    send(app, both)
    grace = customer_of(app, "user_id", "grace")
    assert grace is not None
    with app.reader() as uow:
        assert customer_traits(uow, app.vault, grace)["firstName"] == "Grace"
