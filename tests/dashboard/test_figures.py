"""The dashboard's figures match what was done, counted by the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, insert, update

from tests.dashboard.conftest import NOW
from tests.helpers import grant, msg, send
from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentStatus
from trustable.core.clock import FixedClock
from trustable.core.errors import InvalidInput
from trustable.dashboard.service import (
    consent_activity,
    consent_rates,
    customer_count,
    delivery_health,
    drops_by_reason,
    ledger_figures,
    request_figures,
    trust_dashboard,
)
from trustable.destinations.tables import notices, outbox
from trustable.events.service import drop_counts
from trustable.ledger.sequencer import flush
from trustable.ledger.sequencing import sequence
from trustable.ledger.service import sign_head, tree_size
from trustable.ledger.tables import ledger_heads
from trustable.rights.service import Channel, Kind, State, move, open_request

PERSONALIZE = "personalize.content.profiled"
EMAIL = "marketing.communications.email"
START = datetime(2026, 11, 20, tzinfo=UTC)
END = datetime(2026, 11, 23, tzinfo=UTC)


def at(day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def test_consent_decisions_per_purpose_and_utc_day(shop: Trustable, clock: FixedClock) -> None:
    clock.now = at(19, 23, 59, 59)  # the second before the range
    grant(shop, "early", PERSONALIZE)
    clock.now = at(20)
    grant(shop, "ada", PERSONALIZE)
    grant(shop, "grace", PERSONALIZE)
    grant(shop, "alan", EMAIL, status=ConsentStatus.denied)
    # 00:30 in Paris on the 23rd is 23:30 UTC on the 22nd: counted on the 22nd.
    clock.now = datetime(2026, 11, 23, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    grant(shop, "ada", PERSONALIZE, status=ConsentStatus.withdrawn)
    clock.now = END  # the range ends before this one
    grant(shop, "late", PERSONALIZE)

    with shop.reader() as uow:
        activity = consent_activity(uow, start=START, end=END)
    assert activity.days == (date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22))
    by_purpose = {p.purpose: p for p in activity.purposes}
    assert set(by_purpose) == {PERSONALIZE, EMAIL}
    assert by_purpose[PERSONALIZE].granted == (2, 0, 0)
    assert by_purpose[PERSONALIZE].withdrawn == (0, 0, 1)
    assert by_purpose[EMAIL].denied == (1, 0, 0)
    assert activity.total("granted") == (2, 0, 0)
    assert activity.total("withdrawn") == (0, 0, 1)


def test_consent_rates_are_where_customers_stand_now(shop: Trustable) -> None:
    grant(shop, "ada", PERSONALIZE)
    grant(shop, "grace", PERSONALIZE)
    grant(shop, "ada", PERSONALIZE, status=ConsentStatus.withdrawn)
    grant(shop, "alan", EMAIL, status=ConsentStatus.denied)
    grant(shop, "alan", "essential.service.security", status=ConsentStatus.objected)
    with shop.reader() as uow:
        rates = {r.purpose: r for r in consent_rates(uow, shop.policy)}
        assert customer_count(uow) == 3
    assert (rates[PERSONALIZE].granted, rates[PERSONALIZE].withdrawn) == (1, 1)
    assert rates[PERSONALIZE].rate == 0.5
    assert rates[EMAIL].rate == 0.0 and rates[EMAIL].decided == 1
    # Purposes that need consent are shown before anyone decides; others once objected to.
    assert rates["analytics.reporting"].decided == 0 and rates["analytics.reporting"].rate is None
    assert not rates["essential.service.security"].needs_consent
    assert rates["essential.service.security"].objected == 1
    assert "essential.service" not in rates


def _request(shop: Trustable, kind: Kind, received: datetime, **detail: Any) -> Any:
    with shop.uow() as uow:
        opened = open_request(
            uow,
            shop.vault,
            shop.policy,
            kind=kind,
            customer_id=None,
            channel=Channel.api,
            now=received,
            actor="test",
            detail=detail or None,
        )
        uow.commit()
    return opened


def _finish(shop: Trustable, request: Any, state: State, when: datetime) -> None:
    with shop.uow() as uow:
        move(uow, shop.vault, request, state, actor="test", now=when, refusal="no")
        uow.commit()


def test_requests_by_kind_with_median_time_to_complete_and_overdue(shop: Trustable) -> None:
    for received, seconds in ((at(20), 2), (at(20, 11), 86_400), (at(21), 10)):
        _finish(
            shop,
            _request(shop, Kind.access, received),
            State.done,
            received + timedelta(seconds=seconds),
        )
    for seconds in (4, 6):
        _finish(shop, _request(shop, Kind.erase, at(21)), State.done, at(21, 10, 0, seconds))
    _request(shop, Kind.export, datetime(2026, 10, 1, tzinfo=UTC))  # due 1 November: overdue
    _finish(shop, _request(shop, Kind.restrict, at(21)), State.refused, at(21, 12))
    _request(shop, Kind.object, at(22), purposes=[EMAIL])  # open, due in December
    # Done before the range: counted nowhere in it.
    _finish(shop, _request(shop, Kind.access, at(1)), State.done, at(1, 11))

    with shop.reader() as uow:
        figures = {f.kind: f for f in request_figures(uow, start=START, end=END, now=NOW)}
    assert list(figures) == [k.value for k in Kind]
    access = figures["access"]
    assert (access.received, access.completed, access.open, access.overdue) == (3, 3, 0, 0)
    assert access.median_time_to_complete == timedelta(seconds=10)
    assert figures["erase"].median_time_to_complete == timedelta(seconds=5)  # mean of the middle
    export = figures["export"]
    assert (export.received, export.open, export.overdue) == (0, 1, 1)
    assert export.median_time_to_complete is None
    assert (figures["restrict"].refused, figures["restrict"].completed) == (1, 0)
    assert (figures["object"].received, figures["object"].open, figures["object"].overdue) == (
        1,
        1,
        0,
    )
    assert figures["rectify"].received == 0


def test_fields_dropped_at_collection_by_reason(shop: Trustable) -> None:
    for _ in range(2):
        send(shop, msg("identify", "ada", traits={"favouriteColour": "blue", "shoeSize": 42}))
    send(shop, msg("track", "ada", event="Clicked", properties={"button": "buy"}))
    with shop.reader() as uow:
        reasons = {d.reason: d for d in drops_by_reason(uow)}
        counters = drop_counts(uow)
    unknown = reasons["not_in_tracking_plan"]
    assert unknown.fields >= 3 and unknown.count >= 5
    # The same counters `trustable collection drops` lists per field, summed per reason.
    for reason, figure in reasons.items():
        mine = [c for c in counters if c.reason == reason]
        assert figure.fields == len(mine)
        assert figure.count == sum(c.count for c in mine)
        assert figure.last_seen_at == max(c.last_seen_at for c in mine) == NOW


def test_ledger_size_and_the_latest_signed_head(shop: Trustable) -> None:
    key = shop.vault.public_key()
    with shop.reader() as uow:
        empty = ledger_figures(uow, key)
    assert (empty.size, empty.heads, empty.head_size, empty.head_verified) == (0, 0, None, None)
    grant(shop, "ada", PERSONALIZE)
    with shop.reader() as uow:
        waiting = ledger_figures(uow, key)
    # Recorded, not yet sequenced: being logged, and shown as such.
    assert waiting.size == 0 and waiting.pending >= 1
    assert waiting.oldest_pending_at is not None
    flush(shop)
    with shop.uow() as uow:
        sign_head(uow, shop.vault, now=NOW)
        uow.commit()
    grant(shop, "grace", PERSONALIZE)
    with shop.uow() as uow:
        sequence(uow)  # in the log, no head signed over it yet
        uow.commit()
    with shop.reader() as uow:
        figures = ledger_figures(uow, key)
        size = tree_size(uow)
    assert figures.size == size and figures.heads == 1
    assert figures.head_signed_at == NOW and figures.head_verified is True
    assert figures.unsigned == size - (figures.head_size or 0) > 0

    with shop.engine.begin() as conn:
        conn.execute(update(ledger_heads).values(signature=b"\x00" * 64))
    with shop.reader() as uow:
        assert ledger_figures(uow, key).head_verified is False


def test_delivery_health_per_destination(shop: Trustable) -> None:
    def row(n: int, state: str, attempts: int = 0, **more: Any) -> dict[str, Any]:
        return {
            "customer_id": "cus_x",
            "destination": "crm",
            "message_id": f"m-{n}",
            "idempotency_key": f"k-{n}",
            "state": state,
            "attempts": attempts,
            "next_attempt_at": NOW,
            "created_at": at(20, n),
            "finished_at": None,
            **more,
        }

    rows = [
        row(1, "pending"),
        row(2, "pending"),
        row(3, "pending", attempts=2),
        row(4, "delivered", attempts=1, finished_at=at(21)),
        row(5, "delivered", attempts=1, finished_at=at(22)),
        row(6, "skipped", finished_at=at(22)),
        row(7, "dead", attempts=8, finished_at=at(22)),
    ]
    with shop.engine.begin() as conn:
        conn.execute(insert(outbox), rows)
        conn.execute(
            insert(notices),
            [
                {
                    "request_id": "req_x",
                    "customer_id": "cus_x",
                    "destination": "crm",
                    "kind": "erase",
                    "fields": "",
                    "idempotency_key": "n-1",
                    "state": "pending",
                    "attempts": 1,
                    "next_attempt_at": NOW,
                    "created_at": NOW,
                }
            ],
        )
    with shop.reader() as uow:
        (crm,) = delivery_health(uow, shop.policy)
    assert (crm.destination, crm.queued, crm.retrying) == ("crm", 2, 1)
    assert (crm.delivered, crm.skipped, crm.dead) == (2, 1, 1)
    assert crm.oldest_waiting_since == at(20, 1)
    assert crm.last_delivered_at == at(22)
    assert (crm.notices_pending, crm.notices_dead) == (1, 0)


def test_a_range_must_be_aware_ordered_and_at_most_two_years(shop: Trustable) -> None:
    with shop.reader() as uow:
        for start, end in (
            (END, START),
            (START.replace(tzinfo=None), END),
            (START - timedelta(days=800), END),
        ):
            with pytest.raises(InvalidInput):
                consent_activity(uow, start=start, end=end)


def test_the_dashboard_asks_the_same_few_questions_however_much_is_stored(
    shop: Trustable, clock: FixedClock
) -> None:
    def statements() -> int:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(shop.engine, "before_cursor_execute", count)
        try:
            with shop.reader() as uow:
                board = trust_dashboard(
                    uow, shop.policy, shop.vault.public_key(), start=START, end=END, now=NOW
                )
        finally:
            event.remove(shop.engine, "before_cursor_execute", count)
        assert board.consent.days[0] == START.date()
        return len(seen)

    clock.now = at(21)
    grant(shop, "u-0", PERSONALIZE)
    few = statements()
    for n in range(1, 40):
        grant(shop, f"u-{n}", PERSONALIZE, EMAIL)
    assert statements() == few
    with shop.reader() as uow:
        board = trust_dashboard(
            uow, shop.policy, shop.vault.public_key(), start=START, end=END, now=NOW
        )
    assert board.customers == 40
    assert sum(board.consent.total("granted")) == 79
