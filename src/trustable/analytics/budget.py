"""Each analyst's privacy budget: epsilon per UTC day, spent before an answer leaves.

Differential privacy's guarantee composes: k answers at epsilon each cost k times
epsilon. So the spending is what bounds what an analyst can learn about one person
by asking again and again (or by differencing two answers), and it is enforced where
it cannot race: one UPDATE that adds the spend only if the total still fits.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import insert, select, update

from trustable.analytics.schemas import Budget
from trustable.analytics.tables import analytics_budgets, analytics_spends
from trustable.core.errors import TrustableError
from trustable.policy.schemas import AnalyticsSpec
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_ignoring_conflicts

# Rounding slack: three spends of 1.0 fill a budget of 3.0 exactly.
SLACK = 1e-9


class BudgetExhausted(TrustableError):
    """A private answer would spend more than the analyst has left today."""

    code = "budget_exhausted"
    status = 429


def period_of(now: datetime) -> str:
    return now.astimezone(UTC).date().isoformat()


def resets_at(now: datetime) -> datetime:
    """The next UTC midnight, when a new day's budget begins."""
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=UTC)


def budget(uow: UnitOfWork, spec: AnalyticsSpec, analyst: str, *, now: datetime) -> Budget:
    period = period_of(now)
    spent = uow.connection.execute(
        select(analytics_budgets.c.spent).where(
            analytics_budgets.c.analyst == analyst, analytics_budgets.c.period == period
        )
    ).scalar_one_or_none()
    return Budget(analyst, period, spec.epsilon_per_day, float(spent or 0.0), resets_at(now))


def spend(
    uow: UnitOfWork,
    spec: AnalyticsSpec,
    analyst: str,
    epsilon: float,
    *,
    fingerprint: str,
    now: datetime,
) -> Budget:
    """Take `epsilon` from today's budget, or refuse saying what is left and when it
    resets. The caller commits; a rollback gives the epsilon back."""
    period = period_of(now)
    insert_ignoring_conflicts(
        uow, analytics_budgets, [{"analyst": analyst, "period": period, "spent": 0.0}]
    )
    done = uow.connection.execute(
        update(analytics_budgets)
        .where(
            analytics_budgets.c.analyst == analyst,
            analytics_budgets.c.period == period,
            analytics_budgets.c.spent + epsilon <= spec.epsilon_per_day + SLACK,
        )
        .values(spent=analytics_budgets.c.spent + epsilon)
    )
    if done.rowcount != 1:
        left = budget(uow, spec, analyst, now=now)
        raise BudgetExhausted(
            f"this answer would spend epsilon {epsilon:g} and only {left.remaining:g} of "
            f"today's {spec.epsilon_per_day:g} is left; the budget resets at "
            f"{left.resets_at.strftime('%Y-%m-%d %H:%M')} UTC"
        )
    uow.connection.execute(
        insert(analytics_spends).values(
            analyst=analyst, period=period, epsilon=epsilon, fingerprint=fingerprint, spent_at=now
        )
    )
    return budget(uow, spec, analyst, now=now)
