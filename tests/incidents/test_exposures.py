"""A destination's breach affects whom it was sent to in the window; erasure leaves sets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.destinations.receiver import Receiver
from tests.destinations.test_delivery import policy_with
from tests.incidents.support import T0, advance, record, shoppers
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.destinations.worker import Worker
from trustable.incidents.affected import affected_customers
from trustable.incidents.service import Risk
from trustable.rights import runner
from trustable.rights.service import Channel, Kind


@pytest.fixture
def shop(settings: Settings, tmp_path: Path, receiver: Receiver) -> Iterator[Trustable]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_with(receiver.url))
    app = bootstrap(replace(settings, policy_path=policy), clock=FixedClock(T0))
    yield app
    app.close()


def test_a_destination_breach_affects_whom_it_was_sent_to_in_the_window(
    shop: Trustable,
) -> None:
    people = shoppers(shop)
    advance(shop, hours=1)
    Worker(shop).run_once()  # every rating goes to the recommender at T0 + 1 h
    advance(shop, hours=1)
    incident = record(
        shop,
        store="destination",
        destination="recommender",
        exposed="cleartext",
        # The recommender's purpose never receives email: only the ratings count.
        categories=["user.contact.email", "user.behavior.media_consumption"],
        window_start=T0 + timedelta(minutes=30),
        window_end=T0 + timedelta(hours=2),
    )
    assert incident.risk is Risk.high
    with shop.reader() as uow:
        found = {c.customer_id: c for c in affected_customers(uow, incident.incident_id)}
    assert set(found) == set(people.values())
    assert {c.categories for c in found.values()} == {("user.behavior.media_consumption",)}
    assert found[people["ada"]].records == 3 and found[people["alan"]].records == 2
    before = record(
        shop,
        store="destination",
        destination="recommender",
        exposed="cleartext",
        categories=["user.behavior"],
        window_start=T0 - timedelta(days=1),
        window_end=T0 + timedelta(minutes=30),
    )
    assert before.people == 0  # nothing had been delivered yet


def test_an_erased_customer_leaves_the_affected_set_and_the_totals_stay(
    shop: Trustable,
) -> None:
    people = shoppers(shop)
    incident = record(shop, store="key_store", exposed="keys")
    runner.file_verified(
        shop, customer_id=people["ada"], kind=Kind.erase, channel=Channel.api, actor="key_test"
    )
    with shop.reader() as uow:
        left = {c.customer_id for c in affected_customers(uow, incident.incident_id)}
    assert left == {people["grace"]}
    assert incident.people == 2
