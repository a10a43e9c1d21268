"""Purpose-bound reads: only what the purpose uses and the customer allows now; logged."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from trustable.bootstrap import Trustable
from trustable.client import TrustableAPIError, TrustableClient
from trustable.identity.service import find_customer
from trustable.ledger import service as ledger
from trustable.ledger.sequencer import flush

PERSONALIZE = "personalize.content.profiled"
ESSENTIAL = "essential.service"


def collect(server: LiveServer, key: str, *messages: dict[str, Any]) -> None:
    answer = httpx.post(f"{server.url}/v1/batch", json={"batch": list(messages), "writeKey": key})
    assert answer.status_code == 200, answer.text


def customer(app: Trustable, user_id: str) -> str:
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user_id)
    assert found is not None
    return found


@pytest.fixture
def ada(app: Trustable, live_server: LiveServer, server_key: str) -> str:
    """Ada, as the shop's backend sends her: an email (a contact), a zip, an age; an
    order and a rating; personalization granted."""
    consent = make_key(app, "consent:write")
    httpx.post(
        f"{live_server.url}/v1/consents",
        json={"user_id": "ada", "purpose": PERSONALIZE, "status": "granted"},
        headers={"Authorization": f"Bearer {consent}"},
    ).raise_for_status()
    collect(
        live_server,
        server_key,
        msg("identify", "ada", traits={"email": "ada@example.org", "zip": "10115", "age": 36}),
        msg("track", "ada", event="Order Completed", properties={"order_id": "o-1"}),
        msg("track", "ada", event="Movie Rated", properties={"movie_id": "1", "rating": 5}),
    )
    return customer(app, "ada")


def test_a_purpose_reads_only_the_categories_it_uses(
    app: Trustable, live_server: LiveServer, ada: str
) -> None:
    key = make_key(app, f"read:{PERSONALIZE}")
    with TrustableClient(live_server.url, key) as client:
        profile = client.profile(ada, purpose=PERSONALIZE)
    assert profile["traits"] == {"age": 36}
    fields = [e["fields"] for e in profile["events"]]
    assert {"event": "Movie Rated", "properties.movie_id": "1", "properties.rating": 5} in fields
    assert {"event": "Order Completed", "properties.order_id": "o-1"} in fields
    withheld = {(w["category"], w["reason"]) for w in profile["withheld"]}
    assert ("user.contact.email", "purpose_does_not_use_it") in withheld
    assert ("user.contact.address.postal_code", "purpose_does_not_use_it") in withheld
    assert "ada@example.org" not in str(profile) and "10115" not in str(profile)


def test_a_withdrawn_consent_returns_nothing_for_that_purpose(
    app: Trustable, live_server: LiveServer, ada: str
) -> None:
    consent = make_key(app, "consent:write")
    httpx.put(
        f"{live_server.url}/v1/customers/{ada}/consents/{PERSONALIZE}",
        json={"status": "withdrawn"},
        headers={"Authorization": f"Bearer {consent}"},
    ).raise_for_status()
    with TrustableClient(live_server.url, make_key(app, f"read:{PERSONALIZE}")) as client:
        profile = client.profile(ada, purpose=PERSONALIZE)
    assert profile["traits"] == {} and profile["events"] == []
    reasons = {w["reason"] for w in profile["withheld"] if w["category"].startswith("user.beh")}
    assert reasons == {"customer_has_not_permitted_it"}


def test_a_contract_purpose_reads_contact_data_without_consent(
    app: Trustable, live_server: LiveServer, ada: str
) -> None:
    with TrustableClient(live_server.url, make_key(app, f"read:{ESSENTIAL}")) as client:
        profile = client.lookup(purpose=ESSENTIAL, identifier_type="email", value="ADA@example.org")
    assert profile["customer_id"] == ada
    assert profile["traits"] == {"email": "ada@example.org", "zip": "10115"}
    fields = [e["fields"] for e in profile["events"]]
    assert sorted(fields, key=sorted) == sorted(
        [
            # An order's name is purchase history, which the contract uses.
            {"event": "Order Completed", "properties.order_id": "o-1"},
            {"traits.email": "ada@example.org", "traits.zip": "10115"},
        ],
        key=sorted,
    )


def test_every_read_leaves_a_ledger_entry_without_values(
    app: Trustable, live_server: LiveServer, ada: str
) -> None:
    key = make_key(app, f"read:{PERSONALIZE}", name="recommender")
    with TrustableClient(live_server.url, key) as client:
        client.profile(ada, purpose=PERSONALIZE)
    flush(app)
    with app.reader() as uow:
        entries = [e for e in ledger.customer_entries(uow, ada) if e.kind == "access"]
    assert len(entries) == 1
    content = entries[0].content()
    assert content["actor"].startswith("key_")
    assert content["detail"]["purpose"] == PERSONALIZE
    assert "user.behavior.media_consumption" in content["detail"]["categories"]
    assert b"ada@example.org" not in entries[0].body and b"10115" not in entries[0].body


def test_reads_need_the_purpose_scope_even_for_admin(
    app: Trustable, live_server: LiveServer, ada: str, caplog: pytest.LogCaptureFixture
) -> None:
    for scopes in (["admin"], [f"read:{ESSENTIAL}"], ["consent:read"]):
        key = make_key(app, *scopes)
        with TrustableClient(live_server.url, key) as client, caplog.at_level(logging.WARNING):
            with pytest.raises(TrustableAPIError) as refused:
                client.profile(ada, purpose=PERSONALIZE)
        assert refused.value.status == 403 and refused.value.code == "purpose_not_allowed"
        assert key not in caplog.text and key.split(".")[1] not in caplog.text
    assert "purpose_not_allowed by key_" in caplog.text
    with app.reader() as uow:
        assert not [e for e in ledger.customer_entries(uow, ada) if e.kind == "access"]


def test_bad_reads_are_clear_errors(app: Trustable, live_server: LiveServer, ada: str) -> None:
    key = make_key(app, f"read:{PERSONALIZE}")
    with TrustableClient(live_server.url, key) as client:
        with pytest.raises(TrustableAPIError) as unknown:
            client.profile(ada, purpose="made.up")
        assert (unknown.value.status, unknown.value.code) == (400, "unknown_purpose")
        with pytest.raises(TrustableAPIError) as nobody:
            client.profile("cus_nobody", purpose=PERSONALIZE)
        assert nobody.value.status == 404
        with pytest.raises(TrustableAPIError) as stranger:
            client.lookup(purpose=PERSONALIZE, identifier_type="email", value="x@example.org")
        assert stranger.value.status == 404
    missing = httpx.get(f"{live_server.url}/v1/customers/{ada}/profile")
    assert missing.status_code == 401
    no_purpose = httpx.get(
        f"{live_server.url}/v1/customers/{ada}/profile",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert no_purpose.status_code == 400 and no_purpose.json()["code"] == "invalid_request"
    bad_type = httpx.post(
        f"{live_server.url}/v1/profiles/lookup",
        json={"purpose": PERSONALIZE, "identifier": {"type": "ssn", "value": "1"}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert bad_type.status_code == 400
