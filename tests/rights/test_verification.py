"""Requests by email address alone, verified by a code mailed through a real SMTP server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.mail import Inbox, mailing_shop
from tests.rights.support import T0, customer
from trustable.bootstrap import Trustable
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.rights.verification import MAX_ATTEMPTS, SENDS_PER_HOUR


@pytest.fixture
def shop(settings: Settings, inbox: tuple[Inbox, int]) -> Iterator[Trustable]:
    with mailing_shop(settings, inbox[1], FixedClock(T0)) as app:
        yield app


@pytest.fixture
def server(shop: Trustable, live_server_for: Any) -> LiveServer:
    found: LiveServer = live_server_for(shop)
    return found


def ask(server: LiveServer, email: str, kind: str = "access") -> httpx.Response:
    return httpx.post(f"{server.url}/v1/requests/by-email", json={"email": email, "kind": kind})


def verify(server: LiveServer, request_id: str, code: str) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/requests/{request_id}/verify", json={"code": code})


def test_a_code_from_the_mail_verifies_and_completes_the_request(
    shop: Trustable, server: LiveServer, inbox: tuple[Inbox, int]
) -> None:
    customer(shop)
    answer = ask(server, "  Ada@Example.org ")
    assert answer.status_code == 202
    shop.mailer.flush()
    (code,) = inbox[0].codes_for("ada@example.org")
    assert inbox[0].messages[0]["From"] == "privacy@shop.example"
    done = verify(server, answer.json()["request_id"], code)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done" and done.json()["channel"] == "email"
    export = httpx.get(
        f"{server.url}/v1/requests/{answer.json()['request_id']}/export",
        headers={"Authorization": f"Bearer {done.json()['token']}"},
    )
    assert export.status_code == 200 and export.json()["traits"]
    replayed = verify(server, answer.json()["request_id"], code)
    assert replayed.status_code == 400 and replayed.json()["code"] == "invalid_code"


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    shop: Trustable, server: LiveServer, inbox: tuple[Inbox, int]
) -> None:
    customer(shop)
    known = ask(server, "ada@example.org").json()
    unknown = ask(server, "nobody@example.org").json()
    assert set(known) == set(unknown) and known["message"] == unknown["message"]
    assert known["state"] == unknown["state"] == "received"
    shop.mailer.flush()
    assert inbox[0].codes_for("nobody@example.org") == []
    for guess in ("000000", "123456"):
        answer = verify(server, unknown["request_id"], guess)
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_code"


@pytest.mark.parametrize(
    "stored",
    [
        "bob@example.org\r\nbcc: eve@evil.example",
        "bob@example.org\nsubject: urgent",
        "bob@example.org, eve@evil.example",
        "bob <eve@evil.example>",
    ],
    ids=["crlf", "lf", "two addresses", "display name"],
)
def test_a_stored_address_that_would_inject_a_header_gets_the_same_202_and_no_mail(
    shop: Trustable, server: LiveServer, inbox: tuple[Inbox, int], stored: str
) -> None:
    customer(shop)
    customer(shop, "bob", email=stored)
    known = ask(server, "ada@example.org")
    odd = ask(server, stored)
    unknown = ask(server, "nobody@example.org")
    assert known.status_code == odd.status_code == unknown.status_code == 202, odd.text
    assert known.json().keys() == odd.json().keys() == unknown.json().keys()
    assert known.json()["message"] == odd.json()["message"] == unknown.json()["message"]
    shop.mailer.flush()
    # Only the plain address got mail, and nothing went to or named anyone else.
    assert [m["To"] for m in inbox[0].messages] == ["ada@example.org"]
    assert all(m["Bcc"] is None and "eve" not in m.as_string() for m in inbox[0].messages)
    assert shop.mailer.failed == 1


def test_guessing_codes_locks_the_request_for_good(
    shop: Trustable, server: LiveServer, inbox: tuple[Inbox, int]
) -> None:
    customer(shop)
    request_id = ask(server, "ada@example.org").json()["request_id"]
    shop.mailer.flush()
    (code,) = inbox[0].codes_for("ada@example.org")
    wrong = "000000" if code != "000000" else "111111"
    answers = [verify(server, request_id, wrong) for _ in range(MAX_ATTEMPTS)]
    assert [a.status_code for a in answers] == [400] * (MAX_ATTEMPTS - 1) + [429]
    late = verify(server, request_id, code)  # even the right code, now
    assert late.status_code == 400
    admin_view = httpx.get(
        f"{server.url}/v1/requests",
        params={"state": "refused"},
        headers={"Authorization": f"Bearer {_admin(shop)}"},
    ).json()
    assert admin_view[0]["refusal"] == "too many wrong codes: make a new request"


def test_an_expired_code_is_refused(
    shop: Trustable, server: LiveServer, inbox: tuple[Inbox, int]
) -> None:
    customer(shop)
    request_id = ask(server, "ada@example.org").json()["request_id"]
    shop.mailer.flush()
    (code,) = inbox[0].codes_for("ada@example.org")
    assert isinstance(shop.clock, FixedClock)
    shop.clock.now += timedelta(minutes=16)
    assert verify(server, request_id, code).status_code == 400


def test_an_address_gets_a_few_codes_an_hour_and_no_more(
    shop: Trustable, server: LiveServer, inbox: tuple[Inbox, int]
) -> None:
    customer(shop)
    answers = [ask(server, "ada@example.org") for _ in range(SENDS_PER_HOUR + 2)]
    assert {a.status_code for a in answers} == {202}
    shop.mailer.flush()
    time.sleep(0.1)
    assert len(inbox[0].codes_for("ada@example.org")) == SENDS_PER_HOUR


def test_bad_input_gets_a_clear_error(shop: Trustable, server: LiveServer) -> None:
    bad = ask(server, "not-an-address")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_email"
    kind = ask(server, "ada@example.org", kind="delete-everything")
    assert kind.status_code == 400 and "kind" in kind.json()["message"]


def _admin(app: Trustable) -> str:
    from tests.conftest import make_key

    return make_key(app, "admin")


def test_a_request_left_unverified_past_its_deadline_is_flagged_overdue(
    shop: Trustable, server: LiveServer
) -> None:
    customer(shop)
    request_id = ask(server, "ada@example.org").json()["request_id"]
    admin = {"Authorization": f"Bearer {_admin(shop)}"}
    url = f"{server.url}/v1/requests"
    assert httpx.get(url, params={"overdue": "true"}, headers=admin).json() == []
    assert isinstance(shop.clock, FixedClock)
    shop.clock.now += timedelta(days=32)  # past one calendar month (GDPR, the default)
    (late,) = httpx.get(url, params={"overdue": "true"}, headers=admin).json()
    assert late["request_id"] == request_id and late["overdue"] and late["state"] == "received"
