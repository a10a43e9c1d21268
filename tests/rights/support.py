"""A customer with a history, made through Trustable's own services, for rights tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.helpers import msg
from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentMethod, ConsentStatus, record_for_identifiers
from trustable.events.segment import parse_batch
from trustable.events.service import ingest
from trustable.identity.service import find_customer

PERSONALIZE = "personalize.content.profiled"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def send(app: Trustable, *messages: dict[str, Any]) -> None:
    batch = parse_batch({"batch": list(messages)}, single_type=None, received_at=app.clock())
    with app.uow() as uow:
        ingest(uow, app.vault, app.policy, batch.messages, now=app.clock(), actor="key_test")
        uow.commit()


def grant(app: Trustable, user: str, purpose: str = PERSONALIZE, jurisdiction: str = "DE") -> None:
    with app.uow() as uow:
        record_for_identifiers(
            uow,
            app.vault,
            app.policy,
            idents=[("user_id", user)],
            purpose=purpose,
            status=ConsentStatus.granted,
            method=ConsentMethod.portal,
            now=app.clock(),
            actor="test",
            jurisdiction=jurisdiction,
        )
        uow.commit()


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
