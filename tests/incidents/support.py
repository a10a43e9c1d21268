"""A shop with customers and a real SMTP inbox, and incidents recorded through the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import msg, send
from tests.rights.support import customer, grant
from trustable.bootstrap import Trustable
from trustable.core.clock import FixedClock
from trustable.identity.service import find_customer
from trustable.incidents.service import Incident, record_incident

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PORTAL = "https://shop.example/portal"


def advance(app: Trustable, **delta: float) -> None:
    assert isinstance(app.clock, FixedClock)
    app.clock.now += timedelta(**delta)


def record(app: Trustable, **given: Any) -> Incident:
    """An incident on the data store, discovered now, exposed over the last two days."""
    now = app.clock()
    fields: dict[str, Any] = {
        "title": "Database snapshot found on a public bucket",
        "discovered_at": now,
        "window_start": now - timedelta(days=2),
        "window_end": now,
        "store": "data_store",
        "categories": ["user.contact.email"],
        "exposed": "both",
        "measures": "We removed the copy and replaced every key.",
    }
    fields.update(given)
    with app.uow() as uow:
        found = record_incident(uow, app.vault, app.policy, actor="usr_officer", now=now, **fields)
        uow.commit()
    return found


def shoppers(app: Trustable) -> dict[str, str]:
    """Ada and Grace with email addresses and ratings; Alan rated films but gave no email."""
    return {
        "ada": customer(app, "ada", "ada@example.org"),
        "grace": customer(app, "grace", "grace@example.org"),
        "alan": rater(app, "alan"),
    }


def rater(app: Trustable, user: str, films: int = 2) -> str:
    """A customer who rated films and never gave an email address."""
    grant(app, user)
    send(
        app,
        *[
            msg("track", user, event="Movie Rated", properties={"movie_id": str(n), "rating": 5})
            for n in range(films)
        ],
    )
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user)
    assert found is not None
    return found
