"""Exact aggregates: only groups of at least k customers, only customers who permit
analytics, and no pair of answers that tells one person apart."""

from __future__ import annotations

import pytest

from tests.analytics.support import DAY1, DAY2, Someone, ask, cells, crowd, populate, withdraw
from trustable.analytics.service import QueryRefused
from trustable.bootstrap import Trustable
from trustable.ledger.sequencer import flush
from trustable.ledger.service import entries_of_kind


def test_a_group_below_k_is_suppressed_not_zero_and_totals_cannot_reveal_it(
    app: Trustable,
) -> None:
    populate(
        app,
        crowd("f", 20, gender="F", age=34) + crowd("m", 12, gender="M", age=41) + crowd("u", 3),
    )
    answer = ask(app, measure="count", group_by="gender")
    found = cells(answer)
    assert found[("F",)] == 20
    assert found[("unknown",)] == "fewer_than_k"  # three people: never shown
    assert found[("other",)] == "fewer_than_k"  # nobody: suppressed too, not a zero
    # The total of everyone (35) minus F would give the three away with M shown: so M
    # is hidden as well, and the hidden groups hold 15 customers, not 3.
    assert found[("M",)] == "complementary"
    assert ask(app, measure="count").cells[0].value == 35
    assert answer.released == 1 and answer.suppressed == 3


def test_customers_who_do_not_permit_analytics_are_not_counted(app: Trustable) -> None:
    people = crowd("a", 14, gender="F") + [Someone(f"n{i}", {"gender": "F"}, consents=False)
                                            for i in range(6)]  # fmt: skip
    populate(app, people)
    assert ask(app, measure="count").cells[0].value == 14
    for i in range(3):
        withdraw(app, f"a{i}")
    # Counted no more from the moment of withdrawal, even though their traits remain.
    assert ask(app, measure="count").cells[0].value == 11
    assert cells(ask(app, measure="count", group_by="gender"))[("F",)] == 11
    # A customer who restricted all use of their data (Art. 18) is not counted either.
    from trustable.consent.service import restrict
    from trustable.identity.service import find_customer

    with app.uow() as uow:
        held = find_customer(uow, app.vault, "user_id", "a5")
        assert held is not None
        restrict(uow, held, request_id="req_test", now=app.clock())
        uow.commit()
    assert ask(app, measure="count").cells[0].value == 10


def test_filters_that_leave_out_fewer_than_k_are_refused(app: Trustable) -> None:
    """Sum of ratings of everyone, then of everyone but the one who rated on day two:
    the difference would be that person's rating. The second is refused."""
    people = [Someone(f"p{i}", {"gender": "F"}, [(4.0, DAY1)]) for i in range(15)]
    people.append(Someone("target", {"gender": "F"}, [(1.0, DAY2)]))
    populate(app, people)
    everyone = ask(app, measure="sum", value="rating")
    assert everyone.cells[0].value == 61.0
    with pytest.raises(QueryRefused, match="leave out fewer than 10"):
        ask(app, measure="sum", value="rating", event="Movie Rated", until="2026-11-20")
    with pytest.raises(QueryRefused, match="fewer than 10 customers"):
        ask(app, measure="sum", value="rating", event="Movie Rated", since="2026-11-21")
    # Only one answer was given, so the ledger holds one aggregate entry.
    flush(app)
    with app.reader() as uow:
        assert len(list(entries_of_kind(uow, "aggregate"))) == 1


def test_a_group_that_differs_from_its_unfiltered_self_by_fewer_than_k_is_hidden(
    app: Trustable,
) -> None:
    """Two overlapping queries, by gender, with and without a day filter: the women's
    group would differ by one person (her rating), so it is hidden in the filtered one."""
    women = [Someone(f"w{i}", {"gender": "F"}, [(5.0, DAY1)]) for i in range(12)]
    women.append(Someone("target", {"gender": "F"}, [(2.0, DAY2)]))
    men = [Someone(f"m{i}", {"gender": "M"}, [(3.0, DAY1), (3.0, DAY2)]) for i in range(12)]
    men += [Someone(f"l{i}", {"gender": "M"}, [(3.0, DAY2)]) for i in range(10)]
    populate(app, women + men)
    unfiltered = cells(ask(app, measure="sum", value="rating", group_by="gender"))
    filtered = cells(
        ask(app, measure="sum", value="rating", group_by="gender", event="Movie Rated",
            until="2026-11-20")
    )  # fmt: skip
    assert unfiltered[("F",)] == 62.0
    assert filtered[("F",)] == "differencing"  # 62 - 60 would be her rating
    assert filtered[("M",)] == 36.0  # 12 men that day; the 10 left out are k or more
    # Identify calls are events too; a count of ratings names the event.
    assert cells(ask(app, measure="count", of="events", group_by="gender"))[("F",)] == 26
    rated = ask(app, measure="count", of="events", group_by="gender", event="Movie Rated")
    assert cells(rated)[("F",)] == 13


def test_an_event_count_shows_how_many_customers_stand_behind_it(app: Trustable) -> None:
    populate(app, [Someone(f"p{i}", {"age": 25}, [(4.0, DAY1)] * 3) for i in range(11)])
    answer = ask(app, measure="count", of="events", group_by="age", event="Movie Rated")
    shown = {c.labels: (c.value, c.customers) for c in answer.cells if c.suppressed is None}
    assert shown == {("20-29",): (33.0, 11)}


def test_every_answer_is_in_the_ledger_without_a_person_in_it(app: Trustable) -> None:
    populate(app, crowd("p", 12, gender="F", zip="10115"))
    answer = ask(app, measure="distribution", value="zip_area", analyst="key_someone")
    assert cells(answer)[("1",)] == 12
    flush(app)
    with app.reader() as uow:
        (entry,) = list(entries_of_kind(uow, "aggregate"))
    content = entry.content()
    assert content["subject"] is None and content["actor"] == "key_someone"
    assert content["detail"] == {
        "query": {"measure": "distribution", "of": "customers", "value": "zip_area",
                  "private": False},
        "private": False,
        "epsilon": None,
        "k": 10,
        "groups": 1,
        "suppressed": 11,
    }  # fmt: skip
    assert b"10115" not in entry.body and b"cus_" not in entry.body


def test_a_sum_counts_only_the_customers_who_hold_a_value(app: Trustable) -> None:
    """Twelve women, one of whom gave her age: a sum of ages by gender would be hers."""
    women = crowd("w", 11, gender="F") + [Someone("target", {"gender": "F", "age": 44})]
    populate(app, women + crowd("m", 15, gender="M", age=30))
    by_gender = cells(ask(app, measure="sum", value="age", group_by="gender"))
    assert by_gender[("F",)] == "fewer_than_k"
    assert by_gender[("M",)] == "complementary"  # everyone but her would give her away
    assert cells(ask(app, measure="count", group_by="gender"))[("F",)] == 12


def test_events_holding_nothing_analytics_may_use_are_not_counted(app: Trustable) -> None:
    """An identify that carried only an email address says nothing statistics may use."""
    from tests.helpers import msg, send

    populate(app, [Someone(f"p{i}", {"gender": "F"}, [(4.0, DAY1)]) for i in range(12)])
    send(app, *(msg("identify", f"p{i}", traits={"email": f"p{i}@example.org"})
                for i in range(12)))  # fmt: skip
    # Per person: the identify with gender, and one rating; not the email-only identify.
    assert cells(ask(app, measure="count", of="events", group_by="gender"))[("F",)] == 24


DAY3 = "2026-11-22T10:00:00+00:00"


def test_two_filtered_answers_that_differ_by_fewer_than_k_are_not_both_given(
    app: Trustable,
) -> None:
    """Ratings since day two, then since day three: each leaves out k or more
    customers, but only the target rated on day two, so the first answer minus the
    second would be her rating. The second is refused; another analyst's answers do not
    count against this one (a limit the docs state)."""
    early = [Someone(f"e{i}", {"gender": "F"}, [(4.0, DAY1)]) for i in range(12)]
    late = [Someone(f"l{i}", {"gender": "F"}, [(5.0, DAY3)]) for i in range(24)]
    target = [Someone("target", {"gender": "F"}, [(1.0, DAY2)])]
    populate(app, early + late + target)
    rated = {"measure": "sum", "value": "rating", "event": "Movie Rated"}
    first = ask(app, **rated, since="2026-11-21")  # the late ones and the target
    assert first.cells[0].value == 24 * 5 + 1
    with pytest.raises(QueryRefused, match="count differently in this query and in an exact"):
        ask(app, **rated, since="2026-11-22")  # the late ones alone: 120, and 121 - 120 = 1
    assert ask(app, analyst="key_other", **rated, since="2026-11-22").cells[0].value == 120.0
    # Asking the first again, on the same data, gives the same answer: nothing new.
    assert ask(app, **rated, since="2026-11-21").cells[0].value == first.cells[0].value
    # A private answer is bounded by the budget instead, and is given.
    assert ask(app, **rated, since="2026-11-22", private=True, epsilon=0.5).private


def test_a_group_that_differs_from_an_earlier_answer_by_fewer_than_k_is_hidden(
    app: Trustable,
) -> None:
    """By gender, since day two and then since day three: the men differ by twelve
    customers (shown), the women by one, the target (hidden)."""
    women = [Someone(f"w{i}", {"gender": "F"}, [(5.0, DAY3)]) for i in range(12)]
    women += [Someone("target", {"gender": "F"}, [(1.0, DAY2)])]
    women += [Someone(f"v{i}", {"gender": "F"}, [(2.0, DAY1)]) for i in range(10)]
    men = [Someone(f"m{i}", {"gender": "M"}, [(3.0, DAY3)]) for i in range(12)]
    men += [Someone(f"n{i}", {"gender": "M"}, [(4.0, DAY2)]) for i in range(12)]
    men += [Someone(f"o{i}", {"gender": "M"}, [(2.0, DAY1)]) for i in range(10)]
    populate(app, women + men)
    rated = {"measure": "sum", "value": "rating", "event": "Movie Rated", "group_by": "gender"}
    first = cells(ask(app, **rated, since="2026-11-21"))
    assert first[("F",)] == 61.0 and first[("M",)] == 84.0
    second = cells(ask(app, **rated, since="2026-11-22"))
    assert second[("F",)] == "differencing"  # 61 - 60 would be her rating
    assert second[("M",)] == 36.0  # twelve men fewer: k or more


def test_past_the_days_exact_answers_of_a_kind_only_private_ones_are_given(
    app: Trustable, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustable.analytics.service as service

    monkeypatch.setattr(service, "MAX_EXACT_PER_DAY", 2)
    populate(app, crowd("p", 12, gender="F"))
    ask(app, measure="count")
    ask(app, measure="count", group_by="gender")
    with pytest.raises(QueryRefused, match="2 exact answers of this kind today"):
        ask(app, measure="count")
    assert ask(app, measure="count", private=True, epsilon=0.5).private
    assert ask(app, measure="count", of="events").cells[0].value == 12  # another kind
