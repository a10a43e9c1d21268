"""Collection over real HTTP: authentication, minimization, idempotency, refusals."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from trustable.bootstrap import Trustable
from trustable.events.service import customer_events, customer_traits, drop_counts
from trustable.identity.service import count_customers, find_customer, linked_identifiers

# Also on a Citus cluster (tests/conftest.py): one of the paths docs/scale.md names.
pytestmark = pytest.mark.citus

PERSONALIZE = "personalize.content.profiled"


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def post(server: LiveServer, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, timeout=10, **kwargs)


def customer(app: Trustable, user_id: str) -> str:
    with app.uow() as uow:
        found = find_customer(uow, app.vault, "user_id", user_id)
    assert found is not None
    return found


def test_a_batch_with_the_key_in_the_body_is_stored(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    body = {
        "batch": [
            msg("identify", "u1", traits={"email": "Ada@Example.org", "shoe": 39}),
            msg("track", "u1", event="Order Completed", properties={"order_id": "o1"}),
        ],
        "writeKey": write_key,
    }
    answer = post(live_server, "/v1/batch", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["success"] is True
    assert answer.json()["received"] == 2
    cid = customer(app, "u1")
    with app.uow() as uow:
        assert customer_traits(uow, app.vault, cid) == {"email": "Ada@Example.org"}
        stored = customer_events(uow, app.vault, cid)
        # From a public key the email is a claim: kept, shown, never a way in.
        assert find_customer(uow, app.vault, "email", "ada@example.ORG") is None
        claims = [(i.kind, i.value, i.verified_by) for i in linked_identifiers(uow, app.vault, cid)]
    assert ("email", "ada@example.org", None) in claims
    assert [e.type for e in stored] == ["identify", "track"]
    # Without consent to personalization, the event name (behaviour) is not kept,
    # but the order (purchase history, needed to run the shop) is.
    assert stored[1].fields == {"event": "Order Completed", "properties.order_id": "o1"}


def test_single_message_endpoints_take_the_key_as_basic_username(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    for kind, extra in [
        ("identify", {"traits": {"name": "Ada"}}),
        ("track", {"event": "Signed In"}),
        ("page", {"name": "Home"}),
        ("screen", {"name": "Settings"}),
        ("group", {"groupId": "g1"}),
        ("alias", {"previousId": "anon-9"}),
    ]:
        answer = post(
            live_server, f"/v1/{kind}", msg(kind, "u2", **extra), headers=basic(write_key)
        )
        assert answer.status_code == 200, (kind, answer.text)
        assert answer.json()["received"] == 1


def test_gzip_bodies_are_accepted(live_server: LiveServer, write_key: str) -> None:
    body = gzip.compress(orjson.dumps({"batch": [msg("track", "u3", event="E")]}))
    answer = httpx.post(
        f"{live_server.url}/v1/batch",
        content=body,
        headers={
            **basic(write_key),
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "headers_or_body",
    ["missing", "wrong", "garbage"],
)
def test_a_bad_or_missing_write_key_is_401_with_code_and_message(
    app: Trustable, live_server: LiveServer, headers_or_body: str
) -> None:
    body: dict[str, Any] = {"batch": [msg("track", "u1", event="E")]}
    if headers_or_body == "wrong":
        body["writeKey"] = "tk_key_aaaaaaaaaaaaaaaaaaaa." + "A" * 43
    elif headers_or_body == "garbage":
        body["writeKey"] = "hello"
    answer = post(live_server, "/v1/batch", body)
    assert answer.status_code == 401
    assert set(answer.json()) == {"code", "message"}
    with app.uow() as uow:
        assert count_customers(uow) == 0


def test_a_key_without_the_collect_scope_is_403(app: Trustable, live_server: LiveServer) -> None:
    reader = make_key(app, "consent:read")
    answer = post(
        live_server, "/v1/batch", {"batch": [msg("track", "u1", event="E")]}, headers=basic(reader)
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "missing_scope"


def test_a_retried_batch_stores_nothing_twice(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    body = {"batch": [msg("track", "u4", event="E", properties={"order_id": "o"})] * 3}
    first = post(live_server, "/v1/batch", body, headers=basic(write_key)).json()
    again = post(live_server, "/v1/batch", body, headers=basic(write_key)).json()
    assert (first["stored"], first["duplicates"]) == (1, 2)
    assert (again["stored"], again["duplicates"]) == (0, 3)
    cid = customer(app, "u4")
    with app.uow() as uow:
        assert len(customer_events(uow, app.vault, cid)) == 1


def test_a_consent_change_governs_the_very_next_event(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    consent_key = make_key(app, "consent:write")
    event = {"event": "Movie Rated", "properties": {"movie_id": "1", "rating": 5}}
    post(live_server, "/v1/track", msg("track", "u5", **event), headers=basic(write_key))
    grant = post(
        live_server,
        "/v1/consents",
        {"user_id": "u5", "purpose": PERSONALIZE, "status": "granted", "jurisdiction": "DE"},
        headers={"Authorization": f"Bearer {consent_key}"},
    )
    assert grant.status_code == 200, grant.text
    post(live_server, "/v1/track", msg("track", "u5", **event), headers=basic(write_key))
    cid = customer(app, "u5")
    withdraw = httpx.put(
        f"{live_server.url}/v1/customers/{cid}/consents/{PERSONALIZE}",
        json={"status": "withdrawn"},
        headers={"Authorization": f"Bearer {consent_key}"},
    )
    assert withdraw.status_code == 200, withdraw.text
    post(live_server, "/v1/track", msg("track", "u5", **event), headers=basic(write_key))
    with app.uow() as uow:
        stored = customer_events(uow, app.vault, cid)
    # Before consent: nothing of the rating kept (no event row); with it: all; after: none.
    assert [e.fields for e in stored] == [
        {"event": "Movie Rated", "properties.movie_id": "1", "properties.rating": 5}
    ]


def test_unknown_and_unpermitted_fields_are_counted_never_stored(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    body = {
        "batch": [
            msg("identify", "u6", traits={"email": "x@example.org", "age": 33, "ssn": "123"}),
        ]
    }
    answer = post(live_server, "/v1/batch", body, headers=basic(write_key)).json()
    assert answer["fields_kept"] == 1
    assert answer["fields_dropped"] == 2
    cid = customer(app, "u6")
    with app.uow() as uow:
        drops = {(d.field, d.reason): d.count for d in drop_counts(uow)}
        assert customer_traits(uow, app.vault, cid) == {"email": "x@example.org"}
    assert drops[("traits.ssn", "not_in_tracking_plan")] == 1
    assert drops[("traits.age", "not_permitted")] == 1


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"{oops", {}, 400, "invalid_json"),
        (b'{"batch": [{"type": "track", "event": "\xff"}]}', {}, 400, "invalid_json"),
        (b'{"batch": "no"}', {}, 400, "invalid_batch"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, {}, 400, "too_deep"),
        (b"x" * (600 * 1024), {}, 400, "batch_too_large"),
        (b"{}", {"Content-Encoding": "gzip"}, 400, "invalid_gzip"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_the_service_keeps_serving(
    app: Trustable,
    live_server: LiveServer,
    write_key: str,
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    answer = httpx.post(
        f"{live_server.url}/v1/batch",
        content=content,
        headers={**basic(write_key), "Content-Type": "application/json", **headers},
    )
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["message"]
    ok = post(
        live_server,
        "/v1/batch",
        {"batch": [msg("track", "u7", event="E")]},
        headers=basic(write_key),
    )
    assert ok.status_code == 200


def test_one_bad_message_refuses_the_whole_batch_and_stores_nothing(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    body = {
        "batch": [
            msg("identify", "u8", traits={"email": "y@example.org"}),
            msg("track", None, event="E"),
        ]
    }
    answer = post(live_server, "/v1/batch", body, headers=basic(write_key))
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "no_user_anon_id",
        "message": "batch[1]: userId or anonymousId is required",
    }
    with app.uow() as uow:
        assert count_customers(uow) == 0
        assert drop_counts(uow) == []


def test_unknown_routes_and_methods_answer_in_json(live_server: LiveServer) -> None:
    missing = httpx.get(f"{live_server.url}/v1/nothing")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = httpx.get(f"{live_server.url}/v1/batch")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


def test_a_value_hidden_in_a_field_name_is_not_counted_under_that_name(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    body = {"batch": [msg("track", "u9", event="E", properties={"ada@example.org": True})]}
    assert post(live_server, "/v1/batch", body, headers=basic(write_key)).status_code == 200
    with app.reader() as uow:
        names = [d.field for d in drop_counts(uow)]
    assert "properties.*" in names
    assert not any("ada" in name for name in names)
