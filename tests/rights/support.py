"""A customer with a history, made through Trustable's own services, for rights tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests import helpers
from tests.helpers import msg, send
from trustable.bootstrap import Trustable
from trustable.identity.service import find_customer

PERSONALIZE = "personalize.content.profiled"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def grant(app: Trustable, user: str, purpose: str = PERSONALIZE) -> None:
    helpers.grant(app, user, purpose, jurisdiction="DE")


def customer(
    app: Trustable, user: str = "ada", email: str = "ada@example.org", ratings: int = 3
) -> str:
    """A customer who granted personalization, identified with traits, rated films."""
    grant(app, user)
    traits = {"email": email, "name": "Ada Lovelace", "zip": "75001", "age": 36}
    send(app, msg("identify", user, traits=traits))
    send(
        app,
        *[
            msg(
                "track",
                user,
                event="Movie Rated",
                properties={"movie_id": str(n), "rating": 4, "title": f"Film {n}"},
                context={"ip": "203.0.113.7"},
            )
            for n in range(ratings)
        ],
    )
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user)
    assert found is not None
    return found


def file(url: str, key: str, customer_id: str, kind: str, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/requests",
        json={"customer_id": customer_id, "kind": kind, **body},
        headers={"Authorization": f"Bearer {key}"},
    )
