"""Answering an aggregate from end to end, owning its transactions (an entry point,
like `rights.runner`): the API, the console and the CLI all call `ask`."""

from __future__ import annotations

from trustable.analytics.budget import budget
from trustable.analytics.schemas import AggregateQuery, Answer, Budget
from trustable.analytics.service import analytics_spec, prepare, settle
from trustable.bootstrap import Trustable


def ask(app: Trustable, query: AggregateQuery, *, analyst: str) -> Answer:
    """Read and compute in a read-only unit, then spend the epsilon and write the
    ledger entry in one that commits: the answer is handed out only after that."""
    now = app.clock()
    with app.reader() as uow:
        draft = prepare(uow, app.vault, app.policy, query, analyst=analyst, now=now)
    with app.uow() as uow:
        answer = settle(uow, app.vault, app.policy, draft, analyst=analyst, now=now)
        uow.commit()
    return answer


def remaining(app: Trustable, *, analyst: str) -> Budget:
    """The analyst's budget for today: limit, spent, left, when it resets."""
    spec = analytics_spec(app.policy)
    with app.reader() as uow:
        return budget(uow, spec, analyst, now=app.clock())
