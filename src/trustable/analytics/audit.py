"""Exact answers held against the analyst's earlier exact answers of the same day.

Two exact answers can be subtracted: two day ranges one day apart differ only by the
few customers whose part in them differs, and their difference is those customers'
data. So an exact answer is compared, on the data as it is now, with each exact
answer of the same kind (measure, unit, value) the same analyst had today: if fewer
than k customers (but some) count differently overall, the query is refused; if a
group, grouped alike, differs by fewer than k, that group is hidden.

The comparison is of each customer's own part (their events and clamped sum in each
group, `service.tally` over that customer alone), so it holds for counts of people,
counts of events and sums alike. It is computed on today's data, so it does not see
a change in the data between two answers (the same count before and after one
customer left); nor does it reach across analysts (two accounts that pool their
answers) or days. Differential privacy (a private answer, or a policy with
`exact: false`) is what bounds those.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import insert, select

from trustable.analytics.budget import period_of
from trustable.analytics.schemas import AggregateQuery
from trustable.analytics.tables import analytics_answers
from trustable.storage.uow import UnitOfWork

# Exact answers of one kind per analyst and day that are held against each new one:
# each costs a pass over the data, so the day's count is bounded; past it, only
# private answers (whose budget bounds what they reveal) are given.
MAX_EXACT_PER_DAY = 100

Part = dict[tuple[str, ...], tuple[int, float]]  # group -> (events, clamped sum)


def kind_of(query: AggregateQuery) -> str:
    """What makes two answers subtractable: the same measure of the same thing."""
    return f"{query.measure.value}:{query.of.value}:{query.value or ''}"


def earlier_answers(
    uow: UnitOfWork, analyst: str, query: AggregateQuery, *, now: datetime
) -> list[AggregateQuery]:
    """The analyst's exact answers of the same kind today, oldest first."""
    rows = uow.connection.execute(
        select(analytics_answers.c.query)
        .where(
            analytics_answers.c.analyst == analyst,
            analytics_answers.c.period == period_of(now),
            analytics_answers.c.kind == kind_of(query),
        )
        .order_by(analytics_answers.c.id)
    )
    return [AggregateQuery.model_validate(orjson.loads(row[0])) for row in rows]


def remember(uow: UnitOfWork, analyst: str, query: AggregateQuery, *, now: datetime) -> None:
    """Keep an exact answer's query (its shape: declared names, days, no value)."""
    uow.connection.execute(
        insert(analytics_answers).values(
            analyst=analyst,
            period=period_of(now),
            kind=kind_of(query),
            query=orjson.dumps(query.shape(), option=orjson.OPT_SORT_KEYS).decode(),
            answered_at=now,
        )
    )


def differences(
    parts: Sequence[Part], earlier: Sequence[Part], *, grouped_alike: bool
) -> tuple[int, dict[tuple[str, ...], int]]:
    """How many customers count differently in two answers: overall, and per group
    when both group alike."""
    overall = 0
    per_group: dict[tuple[str, ...], int] = {}
    for mine, theirs in zip(parts, earlier, strict=True):
        if _whole(mine) != _whole(theirs):
            overall += 1
        if grouped_alike:
            for key in mine.keys() | theirs.keys():
                if mine.get(key) != theirs.get(key):
                    per_group[key] = per_group.get(key, 0) + 1
    return overall, per_group


def _whole(part: Part) -> tuple[bool, int, float]:
    """A customer's part in a whole answer: whether they are in it, and how much."""
    return bool(part), sum(e for e, _ in part.values()), sum(t for _, t in part.values())
