"""What a destination receives for one event, for each purpose of the shipped policy:
the same JSON that docs/destinations.md shows under "What each purpose receives"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests import helpers
from tests.conftest import sqlite_settings
from tests.destinations.receiver import Receiver
from tests.helpers import msg, send
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import example_policy_path
from trustable.destinations.worker import Worker
from trustable.policy.service import load_policy

DOC = Path(__file__).parents[2] / "docs" / "destinations.md"
SHOWN = re.compile(r"<!-- payload: (\S+) -->\s*```json\n(.*?)```", re.DOTALL)
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

# The example event of the doc: an order from a signed-in customer, sent by the
# shop's backend with what SDKs add on their own.
ORDER = msg(
    "track",
    "u-1042",
    messageId="order-o-77",
    timestamp="2026-11-20T10:00:00+00:00",
    event="Order Completed",
    properties={"order_id": "o-77", "total": 38.25, "currency": "EUR", "coupon": "WELCOME"},
    context={"ip": "203.0.113.9", "traits": {"email": "ada@example.com", "age": 34}},
)


def purposes() -> list[str]:
    return sorted(load_policy(example_policy_path()).spec.purposes)


def policy_for(url: str) -> str:
    """The shipped policy with one destination per purpose, named after the purpose."""
    lines = ["", "destinations:"]
    for purpose in purposes():
        lines += [
            f"  {purpose.replace('.', '-')}:",
            f"    url: {url}",
            f"    purposes: [{purpose}]",
        ]
    return example_policy_path().read_text() + "\n".join(lines) + "\n"


@pytest.fixture
def shop(tmp_path: Path, receiver: Receiver) -> Iterator[Trustable]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_for(receiver.url))
    settings = replace(sqlite_settings(tmp_path), policy_path=policy)
    app = bootstrap(settings, clock=FixedClock(T0))
    yield app
    app.close()


def received(shop: Trustable, receiver: Receiver) -> dict[str, dict[str, Any]]:
    """Each destination's body, with what differs per store written as the doc does."""
    helpers.grant(shop, "u-1042", *purposes())
    send(shop, ORDER)
    Worker(shop).run_once()
    out: dict[str, dict[str, Any]] = {}
    for request in receiver.received:
        body = orjson.loads(request.body)
        body["id"] = "…"
        body["customer_id"] = "cus_…"
        out[body["purposes"][0]] = body
    return out


def shown() -> dict[str, dict[str, Any]]:
    return {name: orjson.loads(block) for name, block in SHOWN.findall(DOC.read_text())}


def test_every_destination_gets_the_type_the_id_and_what_its_purpose_may_see(
    shop: Trustable, receiver: Receiver
) -> None:
    bodies = received(shop, receiver)
    for purpose, body in bodies.items():
        assert (body["type"], body["messageId"]) == ("track", "order-o-77"), purpose
        assert "properties.coupon" not in body["fields"]  # not in the tracking plan
    # The order's name is purchase history: the service itself may see it...
    assert bodies["essential.service"]["event"] == "Order Completed"
    # ...an email tool may use the address and name only: no behaviour, no name.
    mail = bodies["marketing.communications.email"]
    assert "event" not in mail and set(mail["fields"]) <= {"traits.email", "traits.name"}


def test_the_doc_shows_exactly_what_each_purpose_receives(
    shop: Trustable, receiver: Receiver
) -> None:
    bodies = received(shop, receiver)
    assert shown() == bodies, "docs/destinations.md: update 'What each purpose receives'"
