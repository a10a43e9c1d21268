"""A small history to sweep, built through the real services: consent, then collection.

Under the shipped example policy, what Ada's events hold and how long each may stay
(the longest retention among the purposes using the category):

| field | category | kept for |
| --- | --- | --- |
| `properties.order_id` | user.behavior.purchase_history | 730 days (essential.service) |
| `event` | user.behavior | 400 days (analytics.reporting) |
| `context.ip` | user.device.ip_address | 400 days (analytics uses all of user.device) |
| `traits.email` | user.contact.email | 730 days (essential.service) |
| `traits.age` | user.demographic.age_range | 400 days (analytics.reporting) |
| `traits.occupation` | user.job_title | 365 days (personalize.content.profiled) |
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, MetaData, select

from tests.helpers import grant, msg, send
from trustable.bootstrap import Trustable
from trustable.core.clock import FixedClock
from trustable.identity.service import find_customer

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ANALYTICS = "analytics.reporting"
PERSONALIZE = "personalize.content.profiled"
# Values that must never show up in a report, a log line or the ledger.
SECRETS = (b"ada@example.org", b"Order Completed", b"203.0.113.9", b"o-1", b"engineer")


def identify(user: str, at: datetime) -> dict[str, Any]:
    return msg(
        "identify",
        user,
        timestamp=at.isoformat(),
        traits={"email": f"{user}@example.org", "age": 36, "occupation": "engineer"},
    )


def order(user: str, at: datetime, order_id: str = "o-1") -> dict[str, Any]:
    return msg(
        "track",
        user,
        timestamp=at.isoformat(),
        event="Order Completed",
        properties={"order_id": order_id},
        context={"ip": "203.0.113.9"},
    )


def shopper(app: Trustable, user: str = "ada", *purposes: str) -> str:
    """A customer who consented to `purposes` (analytics by default), identified
    herself and placed one order, all now; their customer id."""
    grant(app, user, *(purposes or (ANALYTICS,)))
    now = app.clock()
    send(app, identify(user, now), order(user, now))
    return customer(app, user)


def customer(app: Trustable, user: str) -> str:
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user)
    assert found is not None
    return found


def advance(app: Trustable, days: float) -> None:
    assert isinstance(app.clock, FixedClock)
    app.clock.now += timedelta(days=days)


def rows(engine: Engine, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of these tables, as stored (ciphertext included), in a stable order."""
    metadata = MetaData()
    metadata.reflect(bind=engine, only=list(tables))
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in tables:
            table = metadata.tables[name]
            found = conn.execute(select(table)).all()
            out[name] = sorted((tuple(r) for r in found), key=repr)
    return out
