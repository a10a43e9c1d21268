"""Private aggregates: OpenDP noise that is there and of the size promised, groups
hidden by their noisy size, and a budget per analyst and day that runs out."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.analytics.support import DAY1, Someone, ask, cells, crowd, populate, with_analytics
from trustable.analytics import noise
from trustable.analytics.budget import BudgetExhausted, budget
from trustable.analytics.service import analytics_spec
from trustable.analytics.tables import analytics_spends
from trustable.bootstrap import Trustable


def test_count_noise_is_discrete_laplace_of_the_promised_scale() -> None:
    released = noise.noisy_counts([1000] * 4000, 1, 1.0)
    errors = [abs(v - 1000) for v in released]
    # Discrete Laplace, scale 1: E|X| = 2e^-1 / (1 - e^-2) = 0.851. Absent noise gives
    # 0; noise ten times too large gives about 10.
    assert 0.75 < statistics.fmean(errors) < 0.95
    assert max(errors) < 20
    wider = noise.noisy_counts([0] * 4000, 25, 1.0)  # 25 events per customer at most
    assert 22 < statistics.fmean(abs(v) for v in wider) < 28


def test_sum_noise_is_laplace_of_the_promised_scale() -> None:
    scale = noise.sum_scale(5.0, 1.0)
    assert 5.0 <= scale < 5.01  # OpenDP's own map decides; floating point costs a hair
    released = noise.noisy_sums([100.0] * 4000, 5.0, 1.0)
    assert 4.6 < statistics.fmean(abs(v - 100.0) for v in released) < 5.4


def test_a_private_count_is_noisy_around_the_truth(app: Trustable) -> None:
    with_analytics(app, epsilon_per_day=100.0)
    populate(app, crowd("f", 40, gender="F") + crowd("m", 30, gender="M"))
    seen = []
    for _ in range(16):
        answer = ask(app, measure="count", group_by="gender", private=True, epsilon=1.0)
        assert answer.private and answer.epsilon == 1.0 and answer.scale == 1.0
        seen.append(cells(answer)[("F",)])
    values = [float(v) for v in seen]
    assert len(set(values)) > 1  # noise is there
    assert all(abs(v - 40) <= 15 for v in values)  # and of scale 1 (P(|X| > 15) < 1e-6)
    assert 38.5 < statistics.fmean(values) < 41.5  # standard error 0.3


def test_a_private_answer_hides_groups_whose_noisy_size_is_below_k(app: Trustable) -> None:
    """Shown only from k plus three noise scales (13 at scale 1), so a group below k
    shows with a chance of a few percent at most, a group of two practically never."""
    with_analytics(app, epsilon_per_day=100.0)
    populate(app, crowd("f", 40, gender="F") + crowd("m", 2, gender="M"))
    for _ in range(5):
        answer = ask(app, measure="count", group_by="gender", private=True, epsilon=1.0)
        found = cells(answer)
        assert "at least 13" in " ".join(answer.notes)
        assert found[("M",)] == "fewer_than_k"
        assert found[("other",)] == "fewer_than_k"  # every declared group is in the answer


def test_a_private_sum_caps_each_customer_and_clamps_values(app: Trustable) -> None:
    with_analytics(app, epsilon_per_day=100.0, max_events_per_customer=2)
    # Each rates three times: only two count, and 9 is clamped to the rating's 5.
    populate(app, [Someone(f"p{i}", {"age": 30}, [(9.0, DAY1)] * 3) for i in range(40)])
    values = []
    for _ in range(6):
        answer = ask(app, measure="sum", value="rating", event="Movie Rated", private=True,
                     epsilon=1.0)  # fmt: skip
        (cell,) = answer.cells
        # Sizes get a quarter of epsilon (scale 4): shown from 10 + 3 x 4 = 22 customers.
        assert "at least 22" in " ".join(answer.notes)
        if cell.value is not None:  # hidden with a chance of about 0.1% (40 + noise < 22)
            values.append(cell.value)
        assert answer.scale is not None and 13.3 < answer.scale < 13.4  # 2 x 5 / 0.75
        assert any("at most 2 events" in note for note in answer.notes)
    assert abs(statistics.fmean(values) - 400.0) < 60  # 40 x 2 x 5, not 40 x 3 x 9


def test_the_budget_is_spent_per_analyst_and_refused_when_exhausted(app: Trustable) -> None:
    populate(app, crowd("f", 20, gender="F"))
    for left in (2.0, 1.0, 0.5):
        spent = 1.0 if left >= 1.0 else 0.5
        answer = ask(app, measure="count", private=True, epsilon=spent)
        assert answer.remaining == pytest.approx(left)
    with pytest.raises(BudgetExhausted) as refused:
        ask(app, measure="count", private=True, epsilon=1.0)
    message = refused.value.message
    assert "only 0.5 of today's 3 is left" in message and "resets at" in message
    assert refused.value.status == 429
    ask(app, measure="count", private=True, epsilon=0.5)  # what is left can be spent
    with pytest.raises(BudgetExhausted, match="only 0 of today's 3"):
        ask(app, measure="count", private=True, epsilon=0.1)
    # Another analyst has a budget of their own; exact answers spend nothing.
    assert ask(app, "key_other", measure="count", private=True, epsilon=1.0).remaining == 2.0
    assert ask(app, measure="count").remaining is None
    with app.reader() as uow:
        spends = uow.connection.execute(
            select(analytics_spends.c.analyst, analytics_spends.c.epsilon)
        ).all()
        today = budget(uow, analytics_spec(app.policy), "key_analyst", now=app.clock())
    assert sorted(spends) == sorted(
        [("key_analyst", e) for e in (1.0, 1.0, 0.5, 0.5)] + [("key_other", 1.0)]
    )
    assert today.remaining == 0.0
    tomorrow = today.resets_at
    assert tomorrow.tzinfo is UTC and tomorrow > datetime.now(UTC)


def test_differencing_two_private_answers_spends_twice(app: Trustable) -> None:
    """The differencing attack on private answers costs epsilon for each side, and the
    budget caps how many sides can be asked; k holds on the noisy sizes as well."""
    with_analytics(app, epsilon_per_day=2.0)
    populate(app, [Someone(f"p{i}", {}, [(4.0, DAY1)]) for i in range(15)])
    ask(app, measure="sum", value="rating", private=True, epsilon=1.0)
    ask(app, measure="sum", value="rating", event="Movie Rated", private=True, epsilon=1.0)
    with pytest.raises(BudgetExhausted):
        ask(app, measure="sum", value="rating", private=True, epsilon=1.0)


def test_a_policy_may_allow_private_answers_only(app: Trustable) -> None:
    from trustable.analytics.service import QueryRefused

    with_analytics(app, exact=False)
    populate(app, crowd("f", 12, gender="F"))
    with pytest.raises(QueryRefused, match="only private answers"):
        ask(app, measure="count")
    assert ask(app, measure="count", private=True, epsilon=0.5).private


def test_two_answers_at_once_cannot_both_spend_the_last_of_the_budget(app: Trustable) -> None:
    import threading

    from trustable.analytics.budget import spend

    spec = analytics_spec(app.policy)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def one() -> None:
        start.wait()
        try:
            with app.uow() as uow:
                spend(uow, spec, "key_race", 1.0, fingerprint="f" * 64, now=app.clock())
                uow.commit()
            outcomes.append("spent")
        except BudgetExhausted:
            outcomes.append("refused")

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "spent", "spent", "spent"]
    with app.reader() as uow:
        assert budget(uow, spec, "key_race", now=app.clock()).spent == 3.0
