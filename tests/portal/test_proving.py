"""A customer proves an address is theirs in the portal: a code mailed to it makes it a
contact they can sign in with. Until then, an address a web page sent is shown as not
confirmed and opens nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace

import httpx
import orjson
import pytest

from tests.conftest import LiveServer
from tests.helpers import msg, send
from tests.mail import Inbox, mail_to
from tests.portal.support import csrf_of, signed_in
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings
from trustable.identity.service import find_customer, linked_identifiers
from trustable.ledger.service import entries_of_kind

CLAIMED = "grace@example.org"


@pytest.fixture
def shop(settings: Settings, inbox: tuple[Inbox, int]) -> Iterator[Trustable]:
    app = bootstrap(replace(settings, mail=mail_to(inbox[1])))
    yield app
    app.close()


@pytest.fixture
def grace(shop: Trustable) -> str:
    """Known only through a web page: a user id and an email the page claimed."""
    send(shop, msg("identify", "grace", traits={"email": CLAIMED}), trusted=False)
    with shop.reader() as uow:
        found = find_customer(uow, shop.vault, "user_id", "grace")
        assert found is not None and find_customer(uow, shop.vault, "email", CLAIMED) is None
    return found


@pytest.fixture
def server(shop: Trustable, live_server_for: Callable[[Trustable], LiveServer]) -> LiveServer:
    return live_server_for(shop)


def handle_of(page: str, address: str) -> str:
    found = re.search(
        r'name="handle" value="(\d+)">\s*<button[^>]*aria-label="Prove ' + re.escape(address), page
    )
    assert found is not None, f"no way to prove {address} on the page"
    return found.group(1)


def proof_of(page: httpx.Response) -> str:
    found = re.search(r'name="proof" value="(prf_[0-9a-f]+)"', page.text)
    assert found is not None, "no code form on the page"
    return found.group(1)


def contacts(shop: Trustable, customer_id: str) -> dict[str, str | None]:
    with shop.reader() as uow:
        return {
            i.value: i.verified_by
            for i in linked_identifiers(uow, shop.vault, customer_id)
            if i.kind == "email"
        }


def test_a_claimed_address_is_proved_with_a_mailed_code_and_then_signs_in(
    shop: Trustable, server: LiveServer, grace: str, inbox: tuple[Inbox, int]
) -> None:
    browser = signed_in(shop, server, grace)
    try:
        home = browser.get("/portal")
        assert "not confirmed: sent by a website or app" in home.text
        sent = browser.post(
            "/portal/contacts/prove",
            data={"handle": handle_of(home.text, CLAIMED), "csrf": csrf_of(home.text)},
            follow_redirects=True,
        )
        assert sent.status_code == 200, sent.text
        shop.mailer.flush()
        (code,) = inbox[0].codes_for(CLAIMED)
        proof = proof_of(sent)
        wrong = browser.post(
            "/portal/contacts/confirm",
            data={"proof": proof, "code": "000000", "csrf": csrf_of(sent.text)},
        )
        assert wrong.status_code == 400 and contacts(shop, grace)[CLAIMED] is None
        done = browser.post(
            "/portal/contacts/confirm",
            data={"proof": proof, "code": code, "csrf": csrf_of(sent.text)},
            follow_redirects=True,
        )
        assert done.status_code == 200, done.text
        assert "confirmed: you proved it is yours" in done.text
    finally:
        browser.close()
    assert contacts(shop, grace)[CLAIMED] == "proof"
    with shop.reader() as uow:
        assert find_customer(uow, shop.vault, "email", CLAIMED) == grace
        (entry,) = [e.content() for e in entries_of_kind(uow, "contact_verified")]
    assert entry["detail"] == {"kind": "email", "how": "proof"}
    assert CLAIMED.encode() not in orjson.dumps(entry)

    # Now the address signs her in by itself.
    with httpx.Client(base_url=server.url) as stranger_device:
        asked = stranger_device.post("/portal/signin", data={"email": CLAIMED})
        shop.mailer.flush()
        code = inbox[0].codes_for(CLAIMED)[-1]
        request_id = asked.text.split('name="request_id" value="')[1].split('"')[0]
        entered = stranger_device.post(
            "/portal/signin/code",
            data={"request_id": request_id, "code": code},
            follow_redirects=True,
        )
        assert entered.status_code == 200 and "What we hold about you" in entered.text


def test_a_new_address_is_added_and_confirmed_and_someone_elses_code_does_nothing(
    shop: Trustable, server: LiveServer, grace: str, inbox: tuple[Inbox, int]
) -> None:
    send(shop, msg("identify", "mallory", traits={"email": "mallory@example.org"}))
    with shop.reader() as uow:
        mallory = find_customer(uow, shop.vault, "user_id", "mallory")
    assert mallory is not None
    browser = signed_in(shop, server, grace)
    other = signed_in(shop, server, mallory)
    try:
        home = browser.get("/portal")
        sent = browser.post(
            "/portal/contacts/add",
            data={"email": "Grace@Work.example", "csrf": csrf_of(home.text)},
            follow_redirects=True,
        )
        assert sent.status_code == 200, sent.text
        assert contacts(shop, grace)["grace@work.example"] is None  # a claim until proved
        shop.mailer.flush()
        (code,) = inbox[0].codes_for("grace@work.example")
        # Another customer holding the proof's id and code cannot confirm it for her.
        theirs = other.get("/portal")
        stolen = other.post(
            "/portal/contacts/confirm",
            data={"proof": proof_of(sent), "code": code, "csrf": csrf_of(theirs.text)},
        )
        assert stolen.status_code == 400
        confirmed = browser.post(
            "/portal/contacts/confirm",
            data={"proof": proof_of(sent), "code": code, "csrf": csrf_of(sent.text)},
            follow_redirects=True,
        )
        assert confirmed.status_code == 200, confirmed.text
        bad = browser.post(
            "/portal/contacts/add", data={"email": "not an address", "csrf": csrf_of(home.text)}
        )
        assert bad.status_code == 400
    finally:
        browser.close()
        other.close()
    assert contacts(shop, grace)["grace@work.example"] == "proof"
    assert "grace@work.example" not in contacts(shop, mallory)
