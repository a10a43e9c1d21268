"""Membership follows events as they arrive, the window, and the customer's consent."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import grant, msg, send
from tests.segments.support import (
    ANALYTICS,
    GROWN_UPS,
    NOW,
    PERSONALIZE,
    SCI_FI,
    customer,
    hits,
    members,
    rate,
    rating,
    segment_entries,
)
from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentStatus
from trustable.core.clock import FixedClock
from trustable.segments.runner import refresh_all


def test_the_fifth_qualifying_rating_makes_a_member_and_is_logged_without_values(
    shop: Trustable,
) -> None:
    grant(shop, "ada", PERSONALIZE)
    rate(shop, "ada", 4)
    send(
        shop,
        rating("ada", stars=3, movie="low"),  # too few stars
        rating("ada", genres=["Drama"], movie="drama"),  # not science fiction
        rating("ada", days_ago=120, movie="old"),  # outside the 90 days
    )
    ada = customer(shop, "ada")
    assert members(shop, SCI_FI) == set() and hits(shop, ada) == 4
    send(shop, rating("ada", movie="fifth"))
    assert members(shop, SCI_FI) == {ada}
    (entry,) = segment_entries(shop)
    assert entry["detail"] == {
        "segment": SCI_FI,
        "purposes": [PERSONALIZE],
        "change": "joined",
        "because": "rule_met",
    }
    assert entry["subject"] == shop.vault.pseudonym(ada)
    assert ada not in str(entry) and "Sci-Fi" not in str(entry)
    rate(shop, "ada", 3)  # already a member: no new entry
    assert len(segment_entries(shop)) == 1


def test_events_count_only_while_every_purpose_of_the_segment_is_permitted(
    shop: Trustable,
) -> None:
    rate(shop, "bo", 6)  # never granted personalization
    bo = customer(shop, "bo")
    assert hits(shop, bo) == 0 and members(shop, SCI_FI) == set()
    grant(shop, "bo", PERSONALIZE)
    rate(shop, "bo", 4)  # what came before the grant does not count
    assert hits(shop, bo) == 4 and members(shop, SCI_FI) == set()


def test_withdrawing_leaves_at_once_and_forgets_what_was_counted(shop: Trustable) -> None:
    grant(shop, "cy", PERSONALIZE)
    rate(shop, "cy", 5)
    cy = customer(shop, "cy")
    assert members(shop, SCI_FI) == {cy}
    grant(shop, "cy", PERSONALIZE, status=ConsentStatus.withdrawn)
    assert members(shop, SCI_FI) == set() and hits(shop, cy) == 0
    assert segment_entries(shop)[-1]["detail"]["because"] == "consent"
    grant(shop, "cy", PERSONALIZE)
    rate(shop, "cy", 1)  # granted again: counting starts over
    assert members(shop, SCI_FI) == set() and hits(shop, cy) == 1


def test_a_refresh_ages_out_old_events_and_members_with_them(
    shop: Trustable, clock: FixedClock
) -> None:
    grant(shop, "di", PERSONALIZE)
    send(shop, *(rating("di", movie=str(n), days_ago=80 - n) for n in range(5)))
    di = customer(shop, "di")
    assert members(shop, SCI_FI) == {di}
    clock.now = NOW + timedelta(days=8)  # the oldest is now 88 days old: all still count
    assert refresh_all(shop).left == 0 and members(shop, SCI_FI) == {di}
    clock.now = NOW + timedelta(days=10, hours=1)  # the oldest is past 90 days
    report = refresh_all(shop)
    assert (report.hits_aged_out, report.left) == (1, 1)
    assert members(shop, SCI_FI) == set() and hits(shop, di) == 4
    assert segment_entries(shop)[-1]["detail"]["because"] == "rule_unmet"
    assert segment_entries(shop)[-1]["actor"] == "segments"


def test_a_refresh_removes_members_whose_consent_no_longer_holds(shop: Trustable) -> None:
    from trustable.consent.service import restrict

    grant(shop, "ed", PERSONALIZE)
    rate(shop, "ed", 5)
    ed = customer(shop, "ed")
    with shop.uow() as uow:  # Art. 18: kept, used for nothing
        restrict(uow, ed, request_id="req_test", now=shop.clock())
        uow.commit()
    assert members(shop, SCI_FI) == {ed}
    report = refresh_all(shop)
    assert report.left == 1 and report.hits_dropped == 5
    assert members(shop, SCI_FI) == set()
    assert segment_entries(shop)[-1]["detail"]["because"] == "consent"


def test_a_trait_rule_follows_the_trait_as_it_is_stated(shop: Trustable) -> None:
    grant(shop, "fe", ANALYTICS)
    send(shop, msg("identify", "fe", traits={"age": 17}))
    fe = customer(shop, "fe")
    assert members(shop, GROWN_UPS) == set()
    send(shop, msg("identify", "fe", traits={"age": 18}))
    assert members(shop, GROWN_UPS) == {fe}
    send(shop, msg("identify", "fe", traits={"plan": "gold"}))  # no age: unchanged
    assert members(shop, GROWN_UPS) == {fe}
    send(shop, msg("identify", "fe", traits={"age": "eighteen"}))  # not a number: out
    assert members(shop, GROWN_UPS) == set()
    send(shop, msg("identify", "gus", traits={"age": 40}))  # no statistics consent
    assert members(shop, GROWN_UPS) == set()


def test_a_refresh_judges_trait_segments_from_the_stored_traits(shop: Trustable) -> None:
    send(shop, msg("identify", "hal", traits={"age": 40}))  # stored for nothing yet
    grant(shop, "hal", ANALYTICS)
    assert members(shop, GROWN_UPS) == set()
    send(shop, msg("identify", "hal", traits={"age": 41}))
    hal = customer(shop, "hal")
    assert members(shop, GROWN_UPS) == {hal}
    grant(shop, "hal", ANALYTICS, status=ConsentStatus.withdrawn)
    assert members(shop, GROWN_UPS) == set()
    grant(shop, "hal", ANALYTICS)
    assert refresh_all(shop).joined == 1 and members(shop, GROWN_UPS) == {hal}


def test_joined_histories_bring_their_counted_events_along(shop: Trustable) -> None:
    grant(shop, "ivy-tablet", PERSONALIZE)
    rate(shop, "ivy-tablet", 3)
    grant(shop, "ivy", PERSONALIZE)
    rate(shop, "ivy", 1, genres=["Sci-Fi"])
    tablet = customer(shop, "ivy-tablet")
    assert hits(shop, tablet) == 3
    send(shop, msg("alias", "ivy", previousId="ivy-tablet"))
    ivy = customer(shop, "ivy")
    assert hits(shop, tablet) == 0 and hits(shop, ivy) == 4
    assert members(shop, SCI_FI) == set()
    send(shop, rating("ivy", movie="fifth"))
    assert members(shop, SCI_FI) == {ivy}


def test_a_segment_the_policy_drops_is_left_at_the_next_refresh(shop: Trustable) -> None:
    from tests.segments.support import SEGMENTS, with_segments
    from trustable.policy.service import parse_policy

    grant(shop, "jo", PERSONALIZE)
    rate(shop, "jo", 5)
    jo = customer(shop, "jo")
    assert members(shop, SCI_FI) == {jo}
    shop.policy = parse_policy(
        with_segments(SEGMENTS.split("  grown-ups:")[0].replace("sci-fi-fans", "sci-fi-lovers"))
    )
    report = refresh_all(shop)
    assert report.left == 1 and report.hits_dropped == 5
    assert members(shop, SCI_FI) == set() and hits(shop, jo) == 0
    assert segment_entries(shop)[-1]["detail"]["because"] == "segment_removed"
    send(shop, msg("identify", "jo", traits={"age": 30}))
    shop.policy = parse_policy(with_segments("segments: {}"))  # none left at all
    assert refresh_all(shop).left == 0


def test_the_services_retention_sweep_refreshes_segments_too(
    shop: Trustable, clock: FixedClock
) -> None:
    from trustable.retention.runner import sweep_all

    grant(shop, "kim", PERSONALIZE)
    rate(shop, "kim", 5, days_ago=85)
    assert members(shop, SCI_FI) == {customer(shop, "kim")}
    clock.now = NOW + timedelta(days=6)
    sweep_all(shop, dry_run=True)  # a dry run changes nothing, segments included
    assert members(shop, SCI_FI) == {customer(shop, "kim")}
    sweep_all(shop)
    assert members(shop, SCI_FI) == set() and hits(shop, customer(shop, "kim")) == 0
