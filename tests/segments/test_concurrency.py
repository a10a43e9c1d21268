"""Ratings of the same customers arriving at once from many senders: each customer
joins the segment as soon as their ratings together meet the rule, and the join is
recorded once."""

from __future__ import annotations

from collections import Counter

from tests.conftest import LiveServer, make_key
from tests.helpers import grant
from tests.segments.support import (
    PERSONALIZE,
    SCI_FI,
    customer,
    hits,
    members,
    rate,
    rating,
    segment_entries,
)
from tests.senders import fire
from trustable.bootstrap import Trustable

PEOPLE = [f"fan-{n}" for n in range(8)]


def _joins(shop: Trustable) -> Counter[str]:
    return Counter(
        e["subject"]
        for e in segment_entries(shop)
        if e["detail"]["segment"] == SCI_FI and e["detail"]["change"] == "joined"
    )


def _ready(shop: Trustable) -> dict[str, str]:
    """Every fan permits personalization and has three qualifying ratings already."""
    for person in PEOPLE:
        grant(shop, person, PERSONALIZE)
        rate(shop, person, 3)
    return {person: customer(shop, person) for person in PEOPLE}


def test_ratings_that_meet_the_rule_together_make_a_member_once(
    shop: Trustable, server: LiveServer
) -> None:
    """Two senders each bring every fan's fourth or fifth rating at the same moment:
    whichever commits second counts the first one's rating too."""
    fans = _ready(shop)
    key = make_key(shop, "collect:server", name="backend")
    rounds = [
        [[rating(p, movie=f"s{sender}-{p}") for p in PEOPLE] for sender in range(2)]
        for _ in range(1)
    ]
    answers = fire(server, key, rounds)
    assert Counter(status for status, _ in answers) == {200: 2}
    assert members(shop, SCI_FI) == set(fans.values())
    assert all(hits(shop, c) == 5 for c in fans.values())
    joins = _joins(shop)
    assert joins == Counter({shop.vault.pseudonym(c): 1 for c in fans.values()})


def test_many_senders_at_once_record_each_join_once(shop: Trustable, server: LiveServer) -> None:
    fans = _ready(shop)
    key = make_key(shop, "collect:server", name="backend")
    rounds = [
        [[rating(p, movie=f"r{r}-s{sender}-{p}") for p in PEOPLE] for sender in range(6)]
        for r in range(3)
    ]
    answers = fire(server, key, rounds)
    assert Counter(status for status, _ in answers) == {200: 18}
    assert members(shop, SCI_FI) == set(fans.values())
    assert all(hits(shop, c) == 3 + 18 for c in fans.values())
    assert _joins(shop) == Counter({shop.vault.pseudonym(c): 1 for c in fans.values()})
