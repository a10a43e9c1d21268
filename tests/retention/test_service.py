"""The retention sweep: what is past its category's retention goes, the rest stays whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from tests.helpers import raw_dump, send
from tests.retention.history import (
    ANALYTICS,
    PERSONALIZE,
    SECRETS,
    T0,
    advance,
    order,
    rows,
    shopper,
)
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings, example_policy_path
from trustable.events.service import customer_events, customer_traits
from trustable.events.tables import events
from trustable.ledger import service as ledger
from trustable.ledger.sequencer import flush
from trustable.policy.service import parse_policy
from trustable.retention.service import CategoryCounts, SweepReport, sweep

PURCHASES = "user.behavior.purchase_history"
EMAIL = "user.contact.email"


@pytest.fixture
def shop(settings: Settings) -> Iterator[Trustable]:
    app = bootstrap(settings, clock=FixedClock(T0))
    yield app
    app.close()


def run(app: Trustable, *, dry_run: bool = False, limit: int = 500) -> SweepReport:
    """Sweep chunk by chunk as `retention.runner` does, each chunk committed."""
    total = SweepReport(dry_run=dry_run)
    after: str | None = ""
    now = app.clock()
    while after is not None:
        with app.uow() as uow:
            part = sweep(
                uow, app.vault, app.policy, now=now, dry_run=dry_run, after=after, limit=limit
            )
            if not dry_run:
                uow.commit()
        total.absorb(part)
        after = part.next_after
    return total


Stored = tuple[str, tuple[str, ...], dict[str, object]]


def stored(app: Trustable, customer_id: str) -> list[Stored]:
    """A customer's events, opened with their key: type, categories, fields."""
    with app.reader() as uow:
        found = customer_events(uow, app.vault, customer_id)
    return [(e.type, e.categories, e.fields) for e in found]


def traits_of(app: Trustable, customer_id: str) -> dict[str, object]:
    with app.reader() as uow:
        return customer_traits(uow, app.vault, customer_id)


def own_rows(app: Trustable, customer_id: str) -> list[tuple[object, ...]]:
    """A customer's event and trait rows as stored: ciphertext equal means untouched."""
    found = rows(app.engine, "events", "traits")
    return [r for name in ("events", "traits") for r in found[name] if customer_id in r]


def retention_entries(app: Trustable, customer_id: str) -> list[ledger.StoredEntry]:
    flush(app)
    with app.reader() as uow:
        return [e for e in ledger.customer_entries(uow, customer_id) if e.kind == "retention"]


def test_expired_fields_go_the_rest_stays_readable_and_younger_data_is_untouched(
    shop: Trustable,
) -> None:
    ada = shopper(shop, "ada")
    advance(shop, 350)
    carol = shopper(shop, "carol")
    carol_rows = own_rows(shop, carol)

    advance(shop, 51)  # Ada's data is 401 days old: behaviour, device and age are past 400
    report = run(shop)
    assert stored(shop, ada) == [
        ("identify", (EMAIL,), {"traits.email": "ada@example.org"}),
        # An order's name is purchase history: it stays with the order.
        ("track", (PURCHASES,), {"event": "Order Completed", "properties.order_id": "o-1"}),
    ]
    assert traits_of(shop, ada) == {"email": "ada@example.org"}
    assert (report.events_deleted, report.events_trimmed, report.traits_deleted) == (0, 2, 1)
    assert report.categories == {
        "user.device.ip_address": CategoryCounts(400, events_trimmed=1),
        "user.demographic.age_range": CategoryCounts(400, events_trimmed=1, traits_deleted=1),
    }
    assert (report.customers_scanned, report.customers_affected) == (2, 1)
    assert own_rows(shop, carol) == carol_rows
    assert not run(shop).anything  # nothing left to do at the same moment

    advance(shop, 330)  # 731 days: nothing of Ada's may stay; Carol's is 381 days old
    report = run(shop)
    assert stored(shop, ada) == [] and traits_of(shop, ada) == {}
    assert (report.events_deleted, report.events_trimmed, report.traits_deleted) == (2, 0, 1)
    assert report.categories == {
        EMAIL: CategoryCounts(730, events_deleted=1, traits_deleted=1),
        PURCHASES: CategoryCounts(730, events_deleted=1),
    }
    assert own_rows(shop, carol) == carol_rows
    assert len(stored(shop, carol)) == 2


def test_a_category_no_purpose_uses_goes_at_once(shop: Trustable) -> None:
    ada = shopper(shop, "ada", ANALYTICS, PERSONALIZE)
    assert traits_of(shop, ada)["occupation"] == "engineer"
    # The company stops using job titles for recommendations: nothing uses them now.
    text = example_policy_path().read_text()
    assert text.count("      - user.job_title\n") == 1
    shop.policy = parse_policy(text.replace("      - user.job_title\n", ""))

    report = run(shop)  # not a day later
    assert "occupation" not in traits_of(shop, ada)
    identify = stored(shop, ada)[0]
    assert identify[1] == (EMAIL, "user.demographic.age_range")
    assert identify[2] == {"traits.email": "ada@example.org", "traits.age": 36}
    assert report.categories == {
        "user.job_title": CategoryCounts(None, events_trimmed=1, traits_deleted=1)
    }


def test_a_dry_run_changes_nothing_and_reports_what_the_run_then_does(shop: Trustable) -> None:
    shopper(shop, "ada")
    shopper(shop, "bob")
    advance(shop, 350)
    shopper(shop, "carol")
    advance(shop, 51)
    send(shop, order("bob", shop.clock(), order_id="o-2"))
    before = raw_dump(shop.engine)

    planned = run(shop, dry_run=True)
    assert raw_dump(shop.engine) == before
    assert planned.dry_run and planned.ledger_entries == 0
    assert planned.anything

    done = run(shop)
    assert replace(done, dry_run=True, ledger_entries=0) == planned
    assert done.ledger_entries == 2 and raw_dump(shop.engine) != before


def test_each_customer_affected_gets_one_ledger_entry_without_values(shop: Trustable) -> None:
    ada = shopper(shop, "ada")
    bob = shopper(shop, "bob")
    advance(shop, 350)
    carol = shopper(shop, "carol")
    advance(shop, 381)

    report = run(shop, limit=1)  # a chunk per customer: each committed on its own
    assert report.customers_scanned == 3 and report.customers_affected == 2
    assert retention_entries(shop, carol) == []  # 381 days: nothing of hers went
    for someone in (ada, bob):
        (entry,) = retention_entries(shop, someone)
        content = entry.content()
        assert content["actor"] == "retention"
        assert content["detail"] == {
            "categories": [
                PURCHASES,
                "user.contact.email",
                "user.demographic.age_range",
                "user.device.ip_address",
            ],
            "events_deleted": 2,
            "events_trimmed": 0,
            "traits_deleted": 2,
        }
        assert content["subject"] != someone  # a pseudonym, never the id
        assert not any(secret in entry.body for secret in SECRETS)


def test_a_customer_without_a_key_is_skipped_never_guessed(shop: Trustable) -> None:
    ada = shopper(shop, "ada")
    advance(shop, 800)
    held = own_rows(shop, ada)
    assert shop.vault.destroy_key(ada)

    report = run(shop)
    assert report.customers_skipped == 1 and not report.anything
    assert own_rows(shop, ada) == held  # unreadable already; erasure removes it
    assert retention_entries(shop, ada) == []


def test_an_event_stored_with_a_future_time_counts_from_when_it_was_received(
    shop: Trustable,
) -> None:
    # A row from before collection clamped times: it claims to happen in 9999.
    ada = shopper(shop, "ada")
    with shop.engine.begin() as conn:
        conn.execute(
            update(events)
            .where(events.c.customer_id == ada)
            .values(occurred_at=datetime(9999, 12, 31, tzinfo=UTC))
        )
    advance(shop, 401)  # behaviour and device data are past their 400 days
    assert run(shop).events_trimmed == 2
    advance(shop, 330)  # 731 days after it was received, nothing of it may stay
    assert run(shop).events_deleted == 2
    assert stored(shop, ada) == []
