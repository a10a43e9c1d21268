"""A shop with two segments, a clock that stands still, and ways to feed it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.helpers import msg, send
from trustable.bootstrap import Trustable
from trustable.core.settings import example_policy_path
from trustable.identity.service import find_customer
from trustable.ledger.sequencer import flush
from trustable.ledger.service import entries_of_kind
from trustable.segments.tables import segment_hits, segment_members

PERSONALIZE = "personalize.content.profiled"
ANALYTICS = "analytics.reporting"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SCI_FI = "sci-fi-fans"
GROWN_UPS = "grown-ups"

SEGMENTS = """
segments:
  sci-fi-fans:
    description: >-
      You rated five or more science-fiction films 4 stars or more in the last 90 days.
    purposes: [personalize.content.profiled]
    rule:
      event: Movie Rated
      where:
        properties.rating: {gte: 4}
        properties.genres: {contains: Sci-Fi}
      at_least: 5
      within_days: 90
  grown-ups:
    description: You told us you are 18 or older.
    purposes: [analytics.reporting]
    rule: {trait: traits.age, gte: 18}
"""


def with_segments(section: str) -> str:
    """The example policy with its `segments` section (up to the next blank line)
    replaced by `section`."""
    text = example_policy_path().read_text()
    start = text.index("\nsegments:\n")
    end = text.index("\n\n", text.index("within_days", start))
    return text[:start] + "\n" + section.strip("\n") + text[end:]


def rating(
    user: str,
    *,
    stars: float = 5,
    genres: list[str] | None = None,
    days_ago: float = 1,
    movie: str = "1",
) -> dict[str, Any]:
    at = NOW - timedelta(days=days_ago)
    return msg(
        "track",
        user,
        event="Movie Rated",
        timestamp=at.isoformat(),
        properties={
            "movie_id": movie,
            "title": "A film",
            "rating": stars,
            "genres": ["Sci-Fi", "Action"] if genres is None else genres,
        },
    )


def rate(app: Trustable, user: str, count: int, **how: Any) -> None:
    send(app, *(rating(user, movie=str(n), **how) for n in range(count)))


def customer(app: Trustable, user: str) -> str:
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user)
    assert found is not None
    return found


def members(app: Trustable, segment: str) -> set[str]:
    with app.reader() as uow:
        return set(
            uow.connection.execute(
                select(segment_members.c.customer_id).where(segment_members.c.segment == segment)
            ).scalars()
        )


def hits(app: Trustable, customer_id: str) -> int:
    with app.reader() as uow:
        return len(
            uow.connection.execute(
                select(segment_hits).where(segment_hits.c.customer_id == customer_id)
            ).all()
        )


def segment_entries(app: Trustable) -> list[dict[str, Any]]:
    flush(app)
    with app.reader() as uow:
        return [e.content() for e in entries_of_kind(uow, "segment")]
