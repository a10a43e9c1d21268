"""Customers for aggregate tests, made through consent and collection as real ones are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.helpers import grant, msg, send
from trustable.analytics.schemas import AggregateQuery, Answer
from trustable.analytics.service import analytics_spec, prepare, settle
from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentStatus
from trustable.policy.service import Policy

ANALYTICS = "analytics.reporting"
DAY1 = "2026-11-20T10:00:00+00:00"
DAY2 = "2026-11-21T10:00:00+00:00"


@dataclass
class Someone:
    user: str
    traits: dict[str, Any]
    ratings: list[tuple[float, str]] = field(default_factory=list)  # (rating, timestamp)
    consents: bool = True


def populate(app: Trustable, people: list[Someone]) -> None:
    """Grant (or not) analytics, then send each person's traits and ratings in one batch."""
    messages = []
    for person in people:
        if person.consents:
            grant(app, person.user, ANALYTICS)
        messages.append(msg("identify", person.user, traits=person.traits))
        for i, (rating, stamp) in enumerate(person.ratings):
            messages.append(
                msg(
                    "track",
                    person.user,
                    event="Movie Rated",
                    timestamp=stamp,
                    messageId=f"{person.user}-r{i}",
                    properties={"movie_id": str(i), "title": f"Film {i}", "rating": rating},
                )
            )
    send(app, *messages)


def withdraw(app: Trustable, user: str) -> None:
    grant(app, user, ANALYTICS, status=ConsentStatus.withdrawn)


def crowd(prefix: str, n: int, **traits: Any) -> list[Someone]:
    return [Someone(f"{prefix}{i}", dict(traits)) for i in range(n)]


def ask(app: Trustable, analyst: str = "key_analyst", **query: Any) -> Answer:
    """Prepare and settle an answer, as `analytics.runner.ask` does."""
    parsed = AggregateQuery.model_validate(query)
    with app.reader() as uow:
        draft = prepare(uow, app.vault, app.policy, parsed, analyst=analyst, now=app.clock())
    with app.uow() as uow:
        answer = settle(uow, app.vault, app.policy, draft, analyst=analyst, now=app.clock())
        uow.commit()
    return answer


def cells(answer: Answer) -> dict[tuple[str, ...], float | str]:
    """Each group's value, or why it is suppressed."""
    return {
        c.labels: (c.suppressed.value if c.suppressed is not None else c.value or 0.0)
        for c in answer.cells
    }


def with_analytics(app: Trustable, **changes: Any) -> None:
    """Change the running policy's analytics section (k, budget, exact...)."""
    spec = analytics_spec(app.policy).model_copy(update=changes)
    app.policy = Policy(app.policy.spec.model_copy(update={"analytics": spec}), app.policy.source)
