"""`GET /v1/keys` and `POST /v1/keys/{id}/revoke`: admin keys see every key (never a
secret) and revoke one, refused at once."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer, make_key
from trustable.bootstrap import Trustable


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def key_id_of(plaintext: str) -> str:
    return plaintext[3:].split(".")[0]


def test_an_admin_key_lists_every_key_without_a_secret(
    app: Trustable, live_server: LiveServer, admin_key: str, write_key: str
) -> None:
    listed = httpx.get(f"{live_server.url}/v1/keys", headers=bearer(admin_key))
    assert listed.status_code == 200, listed.text
    found = {k["key_id"]: k for k in listed.json()}
    assert set(found) == {key_id_of(admin_key), key_id_of(write_key)}
    write = found[key_id_of(write_key)]
    assert write == {
        "key_id": key_id_of(write_key),
        "name": "write",
        "scopes": ["collect"],
        "created_at": write["created_at"],
        "last_used_at": None,
        "expires_at": None,
        "revoked_at": None,
        "state": "live",
    }
    assert found[key_id_of(admin_key)]["last_used_at"] is not None  # it just listed them
    for key in (admin_key, write_key):
        assert key.split(".")[1] not in listed.text


def test_an_admin_key_revokes_a_key_idempotently_and_it_is_refused_at_once(
    app: Trustable, live_server: LiveServer, admin_key: str
) -> None:
    reader = make_key(app, "consent:read", name="crm")
    url = f"{live_server.url}/v1/keys/{key_id_of(reader)}/revoke"
    consents = f"{live_server.url}/v1/customers/cus_nobody/consents"
    before = httpx.get(consents, headers=bearer(reader))
    assert before.status_code == 404 and before.json()["code"] != "invalid_key"  # let in
    first = httpx.post(url, headers=bearer(admin_key))
    assert first.status_code == 200 and first.json()["state"] == "revoked"
    again = httpx.post(url, headers=bearer(admin_key))
    assert again.status_code == 200 and again.json()["revoked_at"] == first.json()["revoked_at"]
    refused = httpx.get(consents, headers=bearer(reader))
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_key"
    unknown = httpx.post(
        f"{live_server.url}/v1/keys/key_00000000000000000000/revoke", headers=bearer(admin_key)
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_key"


def test_other_keys_may_neither_list_nor_revoke(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    server_key = make_key(app, "collect:server", "consent:write", "requests", name="backend")
    for key in (write_key, server_key):
        listed = httpx.get(f"{live_server.url}/v1/keys", headers=bearer(key))
        assert listed.status_code == 403 and listed.json()["code"] == "missing_scope"
        revoked = httpx.post(
            f"{live_server.url}/v1/keys/{key_id_of(write_key)}/revoke", headers=bearer(key)
        )
        assert revoked.status_code == 403
    assert httpx.get(f"{live_server.url}/v1/keys").status_code == 401
    alive = httpx.post(
        f"{live_server.url}/v1/batch",
        json={"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "m"}]},
        auth=(write_key, ""),
    )
    assert alive.status_code == 200
