"""What someone holding only a shop's public write key can and cannot do.

The write key a web page ships to every visitor is public. What it sends is data
about a visitor, never proof of who someone is: it cannot make an address a way into
another customer's data, cannot join two users' histories, and cannot make up the
crowd an aggregate hides one person in. Every attack here goes over real HTTP, on
SQLite and PostgreSQL; the shop's backend (a `collect:server` key) still does what a
backend must.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.analytics.support import ANALYTICS, Someone, populate
from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from tests.mail import Inbox, mailing_shop
from tests.rights.support import T0
from trustable.bootstrap import Trustable
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.events.service import customer_events, drop_counts
from trustable.identity.service import find_customer, linked_identifiers
from trustable.ledger import service as ledger
from trustable.ledger.sequencer import flush

VICTIM_EMAIL = "victim@example.org"
ATTACKER_EMAIL = "me@attacker.test"


@pytest.fixture
def shop(settings: Settings, inbox: tuple[Inbox, int]) -> Iterator[Trustable]:
    with mailing_shop(settings, inbox[1], FixedClock(T0)) as app:
        yield app


@pytest.fixture
def server(shop: Trustable, live_server_for: Any) -> LiveServer:
    found: LiveServer = live_server_for(shop)
    return found


@pytest.fixture
def public(shop: Trustable) -> str:
    return make_key(shop, "collect", name="web page")


@pytest.fixture
def backend(shop: Trustable) -> str:
    return make_key(shop, "collect:server", name="shop backend")


def collect(server: LiveServer, key: str, *messages: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/v1/batch", json={"batch": list(messages), "writeKey": key})
    assert answer.status_code == 200, answer.text  # never an error an SDK would retry
    found: dict[str, Any] = answer.json()
    return found


def customer(app: Trustable, user: str) -> str:
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user)
    assert found is not None
    return found


@pytest.fixture
def victim(shop: Trustable, server: LiveServer, backend: str) -> str:
    """A signed-up customer, as the shop's backend reports her: her email is a contact."""
    collect(
        server,
        backend,
        msg("identify", "victim", traits={"email": VICTIM_EMAIL, "name": "Vera Victim"}),
        msg("track", "victim", event="Order Completed", properties={"order_id": "o-1"}),
    )
    return customer(shop, "victim")


def codes_sent_to(shop: Trustable, inbox: tuple[Inbox, int], address: str) -> list[str]:
    shop.mailer.flush()
    return inbox[0].codes_for(address)


def ask_by_email(server: LiveServer, email: str) -> httpx.Response:
    answer = httpx.post(
        f"{server.url}/v1/requests/by-email", json={"email": email, "kind": "export"}
    )
    assert answer.status_code == 202, answer.text
    return answer


def portal_sign_in(server: LiveServer, email: str) -> None:
    page = httpx.post(f"{server.url}/portal/signin", data={"email": email})
    assert page.status_code == 200, page.text


def test_a_claimed_email_joined_into_a_victim_opens_nothing(
    shop: Trustable, server: LiveServer, public: str, victim: str, inbox: tuple[Inbox, int]
) -> None:
    collect(server, public, msg("identify", None, anonymousId="anon-X",
                                traits={"email": ATTACKER_EMAIL}))  # fmt: skip
    # The everyday flow: an anonymous history joins the user who signs in.
    collect(server, public, msg("identify", "victim", anonymousId="anon-X"))
    with shop.reader() as uow:
        assert find_customer(uow, shop.vault, "anonymous_id", "anon-X") == victim
        held = {
            (i.kind, i.value): i.verified_by for i in linked_identifiers(uow, shop.vault, victim)
        }
    assert held[("email", VICTIM_EMAIL)] == "source"
    assert held[("email", ATTACKER_EMAIL)] is None  # a claim, shown to her, never a way in

    ask_by_email(server, ATTACKER_EMAIL)
    portal_sign_in(server, ATTACKER_EMAIL)
    assert codes_sent_to(shop, inbox, ATTACKER_EMAIL) == []
    # The victim herself still gets in.
    ask_by_email(server, VICTIM_EMAIL)
    assert len(codes_sent_to(shop, inbox, VICTIM_EMAIL)) == 1


def test_a_public_key_cannot_give_a_known_customer_a_sign_in_address(
    shop: Trustable, server: LiveServer, public: str, victim: str, inbox: tuple[Inbox, int]
) -> None:
    collect(server, public, msg("identify", "victim", traits={"email": ATTACKER_EMAIL}))
    portal_sign_in(server, ATTACKER_EMAIL)
    ask_by_email(server, ATTACKER_EMAIL)
    assert codes_sent_to(shop, inbox, ATTACKER_EMAIL) == []
    with shop.reader() as uow:
        assert find_customer(uow, shop.vault, "email", ATTACKER_EMAIL) is None
        assert find_customer(uow, shop.vault, "email", VICTIM_EMAIL) == victim


@pytest.mark.parametrize(
    "join",
    [
        {"type": "alias", "userId": "victim", "previousId": "attacker"},
        {"type": "alias", "userId": "attacker", "previousId": "victim"},
        {"type": "identify", "userId": "victim", "anonymousId": "anon-attacker"},
        {"type": "identify", "userId": "attacker", "anonymousId": "anon-victim"},
        {"type": "track", "userId": "fresh-user", "anonymousId": "anon-victim", "event": "x"},
    ],
    ids=["alias-into-victim", "alias-victim-away", "identify-own-anon", "identify-victim-anon",
         "new-user-on-victim-anon"],
)  # fmt: skip
def test_a_public_key_never_joins_two_users(
    shop: Trustable,
    server: LiveServer,
    public: str,
    backend: str,
    victim: str,
    inbox: tuple[Inbox, int],
    join: dict[str, Any],
) -> None:
    # The attacker signed up too: the backend vouches for their address.
    collect(server, backend, msg("identify", "attacker", traits={"email": ATTACKER_EMAIL}))
    collect(server, public, msg("page", "attacker", anonymousId="anon-attacker", name="Home"))
    collect(server, public, msg("page", "victim", anonymousId="anon-victim", name="Home"))
    attacker = customer(shop, "attacker")

    body = dict(join)
    kind, user = body.pop("type"), body.pop("userId")
    answer = collect(server, public, msg(kind, user, **body))
    assert answer["joins_refused"] == 1

    assert customer(shop, "victim") == victim and customer(shop, "attacker") == attacker
    flush(shop)
    with shop.reader() as uow:
        assert find_customer(uow, shop.vault, "email", ATTACKER_EMAIL) == attacker
        assert find_customer(uow, shop.vault, "anonymous_id", "anon-victim") == victim
        assert [e.fields for e in customer_events(uow, shop.vault, attacker)
                if e.type == "track" and "properties.order_id" in e.fields] == []  # fmt: skip
        refused = [
            d
            for d in drop_counts(uow)
            if d.reason in ("join_refused_user_id", "join_refused_contact")
        ]
        entries = [
            e
            for who in {victim, attacker, customer(shop, user)}
            for e in ledger.latest_customer_entries(uow, who, before=None, limit=50)
            if e.kind == "join_refused"
        ]
    assert sum(d.count for d in refused) == 1
    # The refusal is logged once, without values: reason and a pseudonym, no id, no address.
    (body,) = {e.body for e in entries}
    assert b"attacker" not in body and b"victim" not in body and b"@" not in body
    assert orjson.loads(body)["detail"]["reason"].startswith("join_refused")
    ask_by_email(server, ATTACKER_EMAIL)
    (code,) = codes_sent_to(shop, inbox, ATTACKER_EMAIL)
    assert code  # the attacker reaches their own history, and only that


def test_the_shops_backend_still_joins_two_users(
    shop: Trustable, server: LiveServer, backend: str, victim: str
) -> None:
    collect(server, backend, msg("identify", "old-login", traits={"email": "vera@old.example"}))
    answer = collect(server, backend, msg("alias", "victim", previousId="old-login"))
    assert answer["joins_refused"] == 0
    assert customer(shop, "old-login") == victim
    with shop.reader() as uow:
        assert find_customer(uow, shop.vault, "email", "vera@old.example") == victim


def test_anonymous_browsing_then_sign_in_joins_through_a_public_key(
    shop: Trustable, server: LiveServer, public: str
) -> None:
    collect(server, public, msg("page", None, anonymousId="anon-1", name="Shoes"))
    order = {"event": "Order Completed", "properties": {"order_id": "o-7"}}
    collect(server, public, msg("track", None, anonymousId="anon-1", **order))
    answer = collect(server, public, msg("identify", "grace", anonymousId="anon-1"))
    assert answer["joins_refused"] == 0
    grace = customer(shop, "grace")
    with shop.reader() as uow:
        assert find_customer(uow, shop.vault, "anonymous_id", "anon-1") == grace
        orders = [e.fields for e in customer_events(uow, shop.vault, grace)]
    assert {"event": "Order Completed", "properties.order_id": "o-7"} in orders


def test_an_address_two_customers_hold_signs_in_neither_and_waits_for_the_privacy_team(
    shop: Trustable, server: LiveServer, backend: str, inbox: tuple[Inbox, int]
) -> None:
    shared = "family@example.org"
    collect(server, backend, msg("identify", "parent", traits={"email": shared}),
            msg("identify", "child", traits={"email": shared}))  # fmt: skip
    answer = ask_by_email(server, shared)
    portal_sign_in(server, shared)
    assert codes_sent_to(shop, inbox, shared) == []
    queue = httpx.get(
        f"{server.url}/v1/requests/{answer.json()['request_id']}",
        headers={"Authorization": f"Bearer {make_key(shop, 'requests')}"},
    )
    assert queue.status_code == 200, queue.text
    assert queue.json()["detail"]["review"] == "shared_contact"
    assert queue.json()["customer_id"] is None
    lookup = httpx.post(
        f"{server.url}/v1/profiles/lookup",
        json={"purpose": "essential.service", "identifier": {"type": "email", "value": shared}},
        headers={"Authorization": f"Bearer {make_key(shop, 'read:essential.service')}"},
    )
    assert lookup.status_code == 409 and lookup.json()["code"] == "ambiguous_identifier"


def test_made_up_customers_do_not_fill_a_group_up_to_k(
    shop: Trustable, server: LiveServer, public: str
) -> None:
    """Nine customers invented through the public key, with a banner's Analytics
    consent, beside one real person: her group stays below k, her age stays hidden."""
    populate(shop, [Someone("real", {"gender": "M", "age": 61})]
             + [Someone(f"f{i}", {"gender": "F", "age": 30}) for i in range(12)])  # fmt: skip
    banner = {"consent": {"categoryPreferences": {"Analytics": True}}}
    collect(server, public, *[
        msg("identify", f"fake-{i}", traits={"gender": "M", "age": 20}, context=banner)
        for i in range(9)
    ])  # fmt: skip
    analyst = make_key(shop, "analytics", name="analyst")
    answer = httpx.post(
        f"{server.url}/v1/aggregates",
        json={"measure": "sum", "value": "age", "group_by": "gender"},
        headers={"authorization": f"Bearer {analyst}"},
    )
    assert answer.status_code == 200, answer.text
    group = next(c for c in answer.json()["cells"] if c["groups"] == {"gender": "M"})
    assert group["value"] is None and group["suppressed"] == "fewer_than_k"
    assert any("public write key" in note for note in answer.json()["notes"])
    assert ANALYTICS  # the purpose the banner granted
