"""Two `trustable serve` processes on one store behave as one.

A change taken by one process (a key revoked, consent withdrawn, a customer erased,
a console account disabled) holds in the other from its next request: none of these
is kept in a process's memory between requests, and the one copy that is (opened
data keys) follows the key store's log of destroyed keys
(tests/vault/test_many_processes.py).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import make_key
from tests.helpers import msg
from tests.processes import Served, served, within
from tests.users.support import PASSWORD, make_user
from trustable.bootstrap import Trustable
from trustable.core.settings import Settings
from trustable.users.service import disable_user

PERSONALIZE = "personalize.content.profiled"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def collect(server: Served, key: str, *messages: dict[str, Any]) -> None:
    answer = httpx.post(f"{server.url}/v1/batch", json={"batch": list(messages), "writeKey": key})
    assert answer.status_code == 200, answer.text


def lookup(server: Served, key: str, email: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/profiles/lookup",
        json={"purpose": PERSONALIZE, "identifier": {"type": "email", "value": email}},
        headers=bearer(key),
    )


def test_a_change_in_one_process_holds_in_the_other_at_its_next_request(
    app: Trustable, settings: Settings, server_key: str
) -> None:
    admin = make_key(app, "admin", name="admin")
    consent = make_key(app, "consent:write", name="consent")
    reader = make_key(app, f"read:{PERSONALIZE}", name="recommender")
    with served(settings) as (a, b):
        for user in ("ada", "bob"):
            httpx.post(
                f"{b.url}/v1/consents",
                json={"user_id": user, "purpose": PERSONALIZE, "status": "granted"},
                headers=bearer(consent),
            ).raise_for_status()
            collect(
                a,
                server_key,
                msg("identify", user, traits={"email": f"{user}@example.org"}),
                msg("track", user, event="Movie Rated", properties={"movie_id": "1", "rating": 5}),
            )
        # Both processes read both, so B has opened (and keeps) their data keys.
        for server in (a, b):
            for user in ("ada", "bob"):
                found = lookup(server, reader, f"{user}@example.org")
                assert found.status_code == 200 and found.json()["events"], found.text
        ada = lookup(b, reader, "ada@example.org").json()["customer_id"]
        bob = lookup(b, reader, "bob@example.org").json()["customer_id"]

        # Consent withdrawn through A: B's next read returns nothing for the purpose.
        httpx.put(
            f"{a.url}/v1/customers/{ada}/consents/{PERSONALIZE}",
            json={"status": "withdrawn"},
            headers=bearer(consent),
        ).raise_for_status()
        after = lookup(b, reader, "ada@example.org").json()
        assert after["events"] == [] and after["traits"] == {}

        # Bob erased through A: B cannot read him, by id or by email, at once.
        erased = httpx.post(
            f"{a.url}/v1/requests",
            json={"customer_id": bob, "kind": "erase"},
            headers=bearer(admin),
        )
        assert erased.status_code == 201 and erased.json()["state"] == "done", erased.text
        assert lookup(b, reader, "bob@example.org").status_code == 404
        profile = httpx.get(
            f"{b.url}/v1/customers/{bob}/profile",
            params={"purpose": PERSONALIZE},
            headers=bearer(reader),
        )
        assert profile.status_code == 404
        # Sent again through B, Bob is someone new: nothing joins him to the erased.
        collect(b, server_key, msg("identify", "bob", traits={"email": "bob@example.org"}))
        again = lookup(a, reader, "bob@example.org")
        assert again.status_code == 200 and again.json()["customer_id"] != bob

        # The reading key revoked through A: B refuses it from its next request on.
        key_id = reader.split(".")[0].removeprefix("tk_")
        httpx.post(f"{a.url}/v1/keys/{key_id}/revoke", headers=bearer(admin)).raise_for_status()
        refused, taken = within(
            1.0, lambda: lookup(b, reader, "ada@example.org"), lambda r: r.status_code == 401
        )
        assert refused.status_code == 401 and taken < 0.5, (refused.status_code, taken)


def test_a_console_account_disabled_elsewhere_is_refused_at_its_next_page(
    app: Trustable, settings: Settings
) -> None:
    make_user(app, "root", role="admin")
    make_user(app, "olivia", role="privacy_officer")
    with served(settings, count=1) as (b,), httpx.Client(base_url=b.url) as browser:
        signed = browser.post("/admin/signin", data={"username": "olivia", "password": PASSWORD})
        assert signed.status_code == 303, signed.text
        assert browser.get("/admin/requests").status_code == 200
        # Disabled by another process (here, the test's own), her session in B ends.
        with app.uow() as uow:
            disable_user(uow, app.vault, "olivia", now=app.clock(), actor="cli")
            uow.commit()
        refused = browser.get("/admin/requests")
        assert refused.status_code in (401, 403), refused.status_code
        assert "Customers' requests" not in refused.text
