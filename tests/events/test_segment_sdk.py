"""The real `segment-analytics-python` client, pointed at a live Trustable."""

from __future__ import annotations

from segment.analytics import Client

from tests.conftest import LiveServer
from trustable.bootstrap import Trustable
from trustable.events.service import customer_events, customer_traits, drop_counts
from trustable.identity.service import find_customer


def test_identify_track_and_alias_through_the_segment_sdk(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    failures: list[Exception] = []
    client = Client(
        write_key,
        host=live_server.url,
        sync_mode=True,
        max_retries=1,
        on_error=lambda error, _items: failures.append(error),
        gzip=True,
    )
    client.identify(
        anonymous_id="anon-1",
        traits={"email": "grace@example.org", "zip": "94043", "mood": "curious"},
    )
    client.identify(
        "sdk-user",
        traits={"firstName": "Grace", "email": "grace@example.org", "age": 85},
        anonymous_id="anon-1",
    )
    client.track("sdk-user", "Order Completed", {"order_id": "o-9", "coupon": "X"})
    client.alias("anon-2", "sdk-user")
    client.flush()
    assert failures == []

    with app.uow() as uow:
        user = find_customer(uow, app.vault, "user_id", "sdk-user")
        assert user is not None
        # identify with userId and anonymousId joined the anonymous history.
        assert find_customer(uow, app.vault, "anonymous_id", "anon-1") == user
        assert find_customer(uow, app.vault, "anonymous_id", "anon-2") == user
        # A web page's key claims the address; only the shop's backend or Grace's
        # own proof makes it a contact.
        assert find_customer(uow, app.vault, "email", "GRACE@example.org") is None
        traits = customer_traits(uow, app.vault, user)
        stored = customer_events(uow, app.vault, user)
        drops = {(d.field, d.reason): d.count for d in drop_counts(uow)}
    assert traits == {"email": "grace@example.org", "zip": "94043", "firstName": "Grace"}
    order = [e for e in stored if e.type == "track"]
    assert order and order[0].fields == {"event": "Order Completed", "properties.order_id": "o-9"}
    # Age needs consent to personalization; mood and coupon are not in the tracking plan;
    # the SDK's library context is not either.
    assert drops[("traits.age", "not_permitted")] == 1
    assert drops[("traits.mood", "not_in_tracking_plan")] == 1
    assert drops[("properties.coupon", "not_in_tracking_plan")] == 1
    assert drops[("context.library.name", "not_in_tracking_plan")] == 4
