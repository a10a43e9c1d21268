"""Who an incident affects: exactly the customers whose data of its categories was
held or shared there in its window, with their own categories and record counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.helpers import msg, send
from tests.incidents.support import T0, advance, rater, record, shoppers
from tests.rights.support import customer, grant
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.identity.service import find_customer
from trustable.incidents.affected import affected_customers
from trustable.incidents.service import (
    Risk,
    Status,
    WrongState,
    approve_notices,
    recompute,
    timeline,
)
from trustable.ledger import service as ledger
from trustable.retention.runner import sweep_all


@pytest.fixture
def shop(settings: Settings) -> Iterator[Trustable]:
    app = bootstrap(replace(settings), clock=FixedClock(T0))
    yield app
    app.close()


def test_a_data_store_breach_affects_exactly_those_who_had_the_categories(
    shop: Trustable,
) -> None:
    people = shoppers(shop)
    advance(shop, hours=1)
    incident = record(shop, categories=["user.contact.email", "user.behavior.media_consumption"])
    with shop.reader() as uow:
        found = {c.customer_id: c for c in affected_customers(uow, incident.incident_id)}
    assert set(found) == set(people.values())
    assert found[people["ada"]].categories == (
        "user.behavior.media_consumption",
        "user.contact.email",
    )
    # Alan never gave an email: only his ratings are concerned, two records.
    assert found[people["alan"]].categories == ("user.behavior.media_consumption",)
    assert found[people["alan"]].records == 2
    assert found[people["ada"]].records == 4  # one identify, three ratings
    assert incident.people == 3 and incident.records == 10
    assert incident.by_category == {
        "user.behavior.media_consumption": 3,
        "user.contact.email": 2,
    }
    assert incident.risk is Risk.high and incident.status is Status.recorded


def test_a_broader_category_covers_the_narrower_ones_held(shop: Trustable) -> None:
    people = shoppers(shop)
    incident = record(shop, categories=["user.contact"])
    with shop.reader() as uow:
        found = {c.customer_id for c in affected_customers(uow, incident.incident_id)}
    assert found == {people["ada"], people["grace"]}


def test_data_stored_after_the_window_is_not_affected(shop: Trustable) -> None:
    shoppers(shop)  # stored at T0
    advance(shop, hours=1)
    incident = record(
        shop,
        window_start=T0 - timedelta(days=3),
        window_end=T0 - timedelta(minutes=1),
        categories=["user.contact.email"],
    )
    assert incident.people == 0 and incident.records == 0


def test_ciphertext_without_keys_is_low_risk(shop: Trustable) -> None:
    shoppers(shop)
    incident = record(shop, exposed="ciphertext")
    assert incident.risk is Risk.low
    assert incident.people == 2  # the set is still computed: notices remain possible


def test_every_step_is_in_the_timeline_and_the_ledger(shop: Trustable) -> None:
    shoppers(shop)
    incident = record(shop)
    with shop.reader() as uow:
        steps = timeline(uow, incident.incident_id)
        assert [s.step for s in steps] == ["recorded", "affected"]
        for step in steps:
            assert step.ledger_index is not None
            entry = ledger.entry(uow, step.ledger_index)
            body = entry.content()
            assert body["kind"] == "incident" and body["subject"] is None
            assert body["detail"]["incident"] == incident.incident_id
            assert body["detail"]["step"] == step.step
            # Staff's free text never reaches the ledger.
            assert b"bucket" not in entry.body


def test_the_set_is_computed_again_until_the_notices_are_approved(shop: Trustable) -> None:
    shoppers(shop)
    incident = record(shop)
    customer(shop, "edsger", "edsger@example.org")  # stored at T0 too, found on a second look
    with shop.uow() as uow:
        again = recompute(uow, shop.vault, shop.policy, incident, actor="usr_officer", now=T0)
        approved = approve_notices(uow, shop.vault, again, actor="usr_officer", now=T0)
        with pytest.raises(WrongState, match="affected set is fixed"):
            recompute(uow, shop.vault, shop.policy, approved, actor="usr_officer", now=T0)
        steps = [s.step for s in timeline(uow, incident.incident_id)]
        uow.commit()
    assert (incident.people, again.people) == (2, 3)
    assert steps == ["recorded", "affected", "affected", "notices_approved"]


def test_data_a_retention_sweep_deleted_after_the_window_opened_is_still_counted(
    shop: Trustable,
) -> None:
    """The store no longer holds it, but it held it when the copy was taken: the
    ledger's `retention` entries say whose data of which kind went, and how much."""
    grant(shop, "old-rater")
    old = [
        msg("track", "old-rater", event="Movie Rated", properties={"movie_id": str(n), "rating": 4},
            timestamp="2024-06-01T10:00:00+00:00")
        for n in range(3)
    ]  # fmt: skip
    send(shop, *old, msg("track", "old-rater", event="Movie Rated", properties={"rating": 5}))
    recent = rater(shop, "recent-rater")
    with shop.reader() as uow:
        old_rater = find_customer(uow, shop.vault, "user_id", "old-rater")
    assert old_rater is not None
    window = {"window_start": T0 - timedelta(hours=1), "window_end": T0 + timedelta(hours=1)}
    advance(shop, hours=2)
    assert sweep_all(shop).events_deleted == 3  # past the 400 days behaviour is kept
    advance(shop, hours=1)
    incident = record(shop, categories=["user.behavior.media_consumption"], **window)
    with shop.reader() as uow:
        found = {c.customer_id: c for c in affected_customers(uow, incident.incident_id)}
    assert set(found) == {old_rater, recent}
    assert found[old_rater].records == 4  # one still held, three swept since
    assert found[old_rater].categories == ("user.behavior.media_consumption",)

    # A sweep before the window opened took the data away before anyone could.
    later = record(
        shop,
        categories=["user.behavior.media_consumption"],
        window_start=T0 + timedelta(hours=2, minutes=30),
        window_end=T0 + timedelta(hours=3),
    )
    with shop.reader() as uow:
        again = {c.customer_id: c for c in affected_customers(uow, later.incident_id)}
    assert again[old_rater].records == 1
