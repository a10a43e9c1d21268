"""Deterministic merging: alias and identify-with-both-ids join histories; nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.helpers import msg
from trustable.bootstrap import Trustable
from trustable.consent.service import (
    ConsentMethod,
    ConsentStatus,
    current_consents,
    record_for_identifiers,
)
from trustable.events.segment import parse_batch
from trustable.events.service import customer_events, customer_traits, ingest
from trustable.identity.service import count_customers, customer_exists, find_customer

# Also on a Citus cluster (tests/conftest.py): one of the paths docs/scale.md names.
pytestmark = pytest.mark.citus

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def collect(app: Trustable, *messages: dict[str, Any]) -> None:
    batch = parse_batch({"batch": list(messages)}, single_type=None, received_at=NOW)
    with app.uow() as uow:
        ingest(uow, app.vault, app.policy, batch.messages, now=NOW, actor="test", trusted=True)
        uow.commit()


def consent(app: Trustable, kind: str, value: str, purpose: str, status: ConsentStatus) -> None:
    with app.uow() as uow:
        record_for_identifiers(
            uow,
            app.vault,
            app.policy,
            idents=[(kind, value)],
            purpose=purpose,
            status=status,
            method=ConsentMethod.api,
            now=NOW,
            actor="test",
        )
        uow.commit()


def test_alias_joins_two_existing_customers_under_the_survivors_key(app: Trustable) -> None:
    collect(
        app,
        msg("identify", None, anonymousId="anon-7", traits={"zip": "10115"}),
        msg("track", None, anonymousId="anon-7", event="E", properties={"order_id": "o1"}),
        msg("identify", "user-7", traits={"email": "k@example.org", "zip": "99999"}),
    )
    with app.uow() as uow:
        anon = find_customer(uow, app.vault, "anonymous_id", "anon-7")
        user = find_customer(uow, app.vault, "user_id", "user-7")
    assert anon and user and anon != user
    consent(app, "user_id", "user-7", "personalize.content.profiled", ConsentStatus.granted)
    consent(app, "anonymous_id", "anon-7", "personalize.content.profiled", ConsentStatus.denied)

    collect(app, {**msg("alias", "user-7"), "previousId": "anon-7"})

    with app.uow() as uow:
        assert find_customer(uow, app.vault, "anonymous_id", "anon-7") == user
        assert customer_exists(uow, anon) == user  # the old id leads to the survivor
        assert count_customers(uow) == 1
        events = customer_events(uow, app.vault, user)  # opened with the survivor's key
        traits = customer_traits(uow, app.vault, user)
        states = {c.purpose: c for c in current_consents(uow, app.policy, user)}
    assert {"properties.order_id": "o1"} in [e.fields for e in events]
    assert traits["zip"] == "99999"  # the survivor's own statement stands
    assert traits["email"] == "k@example.org"
    # The later choice stands (docs/consent.md, "When a visitor signs in"): the denial.
    assert states["personalize.content.profiled"].permitted is False


def test_identify_with_both_ids_joins_and_a_shared_email_alone_does_not(app: Trustable) -> None:
    collect(
        app,
        msg("identify", None, anonymousId="a-1", traits={"email": "same@example.org"}),
        msg("identify", "u-1", traits={"email": "same@example.org"}),
    )
    with app.uow() as uow:
        # Same email, different people as far as Trustable knows: no guessing.
        assert count_customers(uow) == 2
    collect(app, msg("identify", "u-1", anonymousId="a-1"))
    with app.uow() as uow:
        assert count_customers(uow) == 1
        assert find_customer(uow, app.vault, "anonymous_id", "a-1") == find_customer(
            uow, app.vault, "user_id", "u-1"
        )


def test_a_merge_inside_one_batch_keeps_every_event(app: Trustable) -> None:
    collect(
        app,
        msg("track", None, anonymousId="a-9", event="E", properties={"order_id": "1"}),
        msg("track", "u-9", event="E", properties={"order_id": "2"}),
        {**msg("alias", "u-9"), "previousId": "a-9"},
        msg("track", None, anonymousId="a-9", event="E", properties={"order_id": "3"}),
    )
    with app.uow() as uow:
        user = find_customer(uow, app.vault, "user_id", "u-9")
        assert user is not None
        orders = sorted(
            e.fields["properties.order_id"] for e in customer_events(uow, app.vault, user)
        )
        assert count_customers(uow) == 1
    assert orders == ["1", "2", "3"]
