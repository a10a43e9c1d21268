"""Contacts in the portal: an address a web page sent is a claim, shown as not
confirmed, that signs nobody in and gets no mail; the customer proves it (a code
mailed to it, entered in the portal) and from then on it is a contact they can sign
in with. A new address is added the same way. Each identifier says how it was
confirmed."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer
from tests.helpers import msg, send
from tests.mail import Inbox, mailing_shop
from tests.portal.support import csrf_of, signed_in
from trustable.bootstrap import Trustable
from trustable.core.settings import Settings
from trustable.identity.service import find_customer, linked_identifiers
from trustable.ledger import service as ledger
from trustable.ledger.sequencer import flush
from trustable.rights.tables import verification_codes
from trustable.rights.verification import MAX_ATTEMPTS

CLAIMED = "cara@home.example"  # sent by the shop's web page: a claim
NEW = "cara@work.example"  # one she adds herself
NOT_CONFIRMED = "not confirmed: sent by a website or app, never used to sign you in"
PROVED = "confirmed: you proved it is yours"
FROM_A_PAGE = "sent by a website or app"


@pytest.fixture
def shop(settings: Settings, inbox: tuple[Inbox, int]) -> Iterator[Trustable]:
    with mailing_shop(settings, inbox[1]) as app:
        yield app


@pytest.fixture
def server(shop: Trustable, live_server_for: Callable[[Trustable], LiveServer]) -> LiveServer:
    return live_server_for(shop)


@pytest.fixture
def mailbox(inbox: tuple[Inbox, int]) -> Inbox:
    return inbox[0]


@pytest.fixture
def cara(shop: Trustable) -> str:
    """Known only through the web page's public key: a user id, an address it
    claimed for her, and a name."""
    send(
        shop,
        msg("identify", "cara", traits={"email": CLAIMED, "name": "Cara Caraway"}),
        trusted=False,
    )
    with shop.reader() as uow:
        found = find_customer(uow, shop.vault, "user_id", "cara")
    assert found is not None
    return found


@pytest.fixture
def browser(shop: Trustable, server: LiveServer, cara: str) -> Iterator[httpx.Client]:
    """Cara's browser, signed in to the portal with a link from the shop's backend."""
    client = signed_in(shop, server, cara)
    yield client
    client.close()


def shown(page: str) -> dict[str, str]:
    """Each linked identifier's value on the page, and what the page says of how it
    was confirmed."""
    found = re.findall(
        r"<strong>[a-z_]+</strong>: ([^<]+)</span>\s*<span class=\"muted verified\">([^<]*)</span>",
        page,
    )
    return {html.unescape(value): " ".join(text.split()) for value, text in found}


def prove_button(page: str, address: str) -> str | None:
    """The handle the page's "prove it" form sends for this address, if it has one."""
    found = re.search(
        r'name="handle" value="(\d+)">\s*<button[^>]*aria-label="Prove ' + re.escape(address),
        page,
    )
    return found.group(1) if found else None


def proof_id(page: str) -> str:
    found = re.search(r'name="proof" value="(prf_[0-9a-f]+)"', page)
    assert found is not None, "no form to enter the code on the page"
    return found.group(1)


def verified_by(shop: Trustable, customer_id: str, address: str) -> str | None:
    with shop.reader() as uow:
        (found,) = [
            i for i in linked_identifiers(uow, shop.vault, customer_id) if i.value == address
        ]
    return found.verified_by


def mails_to(shop: Trustable, mailbox: Inbox, address: str) -> list[str]:
    shop.mailer.flush()
    return mailbox.codes_for(address)


def ask_to_prove(browser: httpx.Client, address: str) -> httpx.Response:
    home = browser.get("/portal")
    handle = prove_button(home.text, address)
    assert handle is not None, f"no way to prove {address}"
    sent = browser.post(
        "/portal/contacts/prove",
        data={"handle": handle, "csrf": csrf_of(home.text)},
        follow_redirects=True,
    )
    assert sent.status_code == 200, sent.text
    return sent


def confirm(browser: httpx.Client, sent: httpx.Response, code: str) -> httpx.Response:
    return browser.post(
        "/portal/contacts/confirm",
        data={"proof": proof_id(sent.text), "code": code, "csrf": csrf_of(sent.text)},
        follow_redirects=True,
    )


def sign_in_by_email(server: LiveServer, shop: Trustable, mailbox: Inbox, address: str) -> str:
    """Sign in with a mailed code on a fresh browser; the portal page it lands on."""
    with httpx.Client(base_url=server.url) as device:
        before = len(mails_to(shop, mailbox, address))
        asked = device.post("/portal/signin", data={"email": address})
        assert asked.status_code == 200
        codes = mails_to(shop, mailbox, address)
        assert len(codes) == before + 1, f"no sign-in code reached {address}"
        request_id = re.search(r'name="request_id" value="([^"]+)"', asked.text)
        assert request_id is not None
        entered = device.post(
            "/portal/signin/code",
            data={"request_id": request_id.group(1), "code": codes[-1]},
            follow_redirects=True,
        )
        assert entered.status_code == 200, entered.text
        return entered.text


def test_a_claimed_address_is_shown_as_not_confirmed_and_signs_nobody_in(
    shop: Trustable, server: LiveServer, browser: httpx.Client, mailbox: Inbox
) -> None:
    page = browser.get("/portal").text
    assert shown(page) == {"cara": FROM_A_PAGE, CLAIMED: NOT_CONFIRMED}
    assert prove_button(page, CLAIMED) is not None
    with httpx.Client(base_url=server.url) as device:
        asked = device.post("/portal/signin", data={"email": CLAIMED})
    assert asked.status_code == 200  # the same page as for a known address
    assert mails_to(shop, mailbox, CLAIMED) == []  # but nothing is mailed to a claim


def test_proving_a_claimed_address_makes_it_a_contact_she_signs_in_with(
    shop: Trustable, server: LiveServer, browser: httpx.Client, mailbox: Inbox, cara: str
) -> None:
    sent = ask_to_prove(browser, CLAIMED)
    assert "We sent a code to that address" in sent.text
    (code,) = mails_to(shop, mailbox, CLAIMED)
    (mail,) = mailbox.messages
    assert mail["To"] == CLAIMED and mail["Subject"] == "Confirm your email address"
    assert verified_by(shop, cara, CLAIMED) is None  # a code sent proves nothing yet
    done = confirm(browser, sent, code)
    assert done.status_code == 200, done.text
    assert shown(done.text)[CLAIMED].startswith(PROVED)
    assert prove_button(done.text, CLAIMED) is None  # nothing left to prove
    assert verified_by(shop, cara, CLAIMED) == "proof"
    flush(shop)
    with shop.reader() as uow:
        assert find_customer(uow, shop.vault, "email", CLAIMED) == cara
        entries = [e for e in ledger.customer_entries(uow, cara) if e.kind == "contact_verified"]
    (entry,) = entries
    assert entry.content()["detail"] == {"kind": "email", "how": "proof"}
    assert b"cara" not in entry.body and b"@" not in entry.body  # never the address
    landed = sign_in_by_email(server, shop, mailbox, CLAIMED)
    assert "What we hold about you" in landed and "Cara Caraway" in landed


def test_a_wrong_code_counts_and_verifies_nothing(
    shop: Trustable, browser: httpx.Client, mailbox: Inbox, cara: str
) -> None:
    sent = ask_to_prove(browser, CLAIMED)
    (code,) = mails_to(shop, mailbox, CLAIMED)
    wrong = "000000" if code != "000000" else "111111"
    first = confirm(browser, sent, wrong)
    assert first.status_code == 400 and "wrong or expired" in first.text
    assert verified_by(shop, cara, CLAIMED) is None
    with shop.reader() as uow:
        attempts = uow.connection.execute(
            select(verification_codes.c.attempts).where(
                verification_codes.c.request_id == proof_id(sent.text)
            )
        ).scalar_one()
        assert attempts == 1  # counted, though refused
        assert not [e for e in ledger.customer_entries(uow, cara) if e.kind == "contact_verified"]
    for _ in range(MAX_ATTEMPTS - 1):
        assert confirm(browser, sent, wrong).status_code == 400
    # Out of attempts: even the right code no longer proves anything.
    spent = confirm(browser, sent, code)
    assert spent.status_code == 400 and verified_by(shop, cara, CLAIMED) is None
    # A new code does.
    again = ask_to_prove(browser, CLAIMED)
    fresh = mails_to(shop, mailbox, CLAIMED)[-1]
    assert confirm(browser, again, fresh).status_code == 200
    assert verified_by(shop, cara, CLAIMED) == "proof"


def test_codes_to_one_address_are_limited_per_hour(
    shop: Trustable, browser: httpx.Client, mailbox: Inbox, cara: str
) -> None:
    for _ in range(4):
        ask_to_prove(browser, CLAIMED)  # the page looks the same every time
    assert len(mails_to(shop, mailbox, CLAIMED)) == 3


def test_a_new_address_gets_a_code_and_is_confirmed_with_it(
    shop: Trustable, server: LiveServer, browser: httpx.Client, mailbox: Inbox, cara: str
) -> None:
    home = browser.get("/portal")
    sent = browser.post(
        "/portal/contacts/add",
        data={"email": f"  {NEW}  ", "csrf": csrf_of(home.text)},
        follow_redirects=True,
    )
    assert sent.status_code == 200, sent.text
    assert shown(sent.text)[NEW] == NOT_CONFIRMED  # a claim until proved
    (code,) = mails_to(shop, mailbox, NEW)
    assert mailbox.codes_for(CLAIMED) == []  # only the new address is written to
    assert find_customer_by_email(shop, NEW) is None
    done = confirm(browser, sent, code)
    assert done.status_code == 200, done.text
    assert shown(done.text)[NEW].startswith(PROVED)
    assert shown(done.text)[CLAIMED] == NOT_CONFIRMED  # the other stays a claim
    assert find_customer_by_email(shop, NEW) == cara
    landed = sign_in_by_email(server, shop, mailbox, NEW)
    assert "Cara Caraway" in landed


def test_an_address_without_the_forms_token_or_not_an_address_is_refused(
    shop: Trustable, browser: httpx.Client, mailbox: Inbox, cara: str
) -> None:
    home = browser.get("/portal")
    forged = browser.post("/portal/contacts/add", data={"email": NEW, "csrf": "forged"})
    assert forged.status_code == 403
    nonsense = browser.post(
        "/portal/contacts/add", data={"email": "cara at work", "csrf": csrf_of(home.text)}
    )
    assert nonsense.status_code == 400 and "not an email address" in nonsense.text
    assert set(shown(browser.get("/portal").text)) == {"cara", CLAIMED}
    assert mails_to(shop, mailbox, NEW) == []


def test_each_identifier_says_how_it_was_confirmed(
    shop: Trustable, browser: httpx.Client, mailbox: Inbox, cara: str
) -> None:
    # The shop's backend names her and an address of her account: both vouched.
    send(shop, msg("identify", "cara", traits={"email": "cara@account.example"}), trusted=True)
    sent = ask_to_prove(browser, CLAIMED)
    (code,) = mails_to(shop, mailbox, CLAIMED)
    page = confirm(browser, sent, code).text
    shop_name = html.escape(shop.policy.spec.organization.name)
    by_shop = f"confirmed by {shop_name}'s own systems"
    ways = shown(page)
    assert ways["cara"] == by_shop
    assert ways["cara@account.example"] == by_shop
    assert ways[CLAIMED].startswith(PROVED)
    assert prove_button(page, "cara@account.example") is None


def find_customer_by_email(shop: Trustable, address: str) -> str | None:
    with shop.reader() as uow:
        return find_customer(uow, shop.vault, "email", address)


def test_another_customer_cannot_confirm_her_address_with_her_proof_and_code(
    shop: Trustable, server: LiveServer, cara: str, browser: httpx.Client, mailbox: Inbox
) -> None:
    """A proof belongs to the customer who asked for it: someone else who learns its id
    and code, signed in as themselves, confirms nothing."""
    send(shop, msg("identify", "mallory", traits={"email": "mallory@example.org"}))
    with shop.reader() as uow:
        mallory = find_customer(uow, shop.vault, "user_id", "mallory")
    assert mallory is not None
    sent = ask_to_prove(browser, CLAIMED)
    (code,) = mails_to(shop, mailbox, CLAIMED)
    other = signed_in(shop, server, mallory)
    try:
        theirs = other.get("/portal")
        stolen = other.post(
            "/portal/contacts/confirm",
            data={"proof": proof_id(sent.text), "code": code, "csrf": csrf_of(theirs.text)},
        )
    finally:
        other.close()
    assert stolen.status_code == 400
    assert verified_by(shop, cara, CLAIMED) is None
    assert confirm(browser, sent, code).status_code == 200
    assert verified_by(shop, cara, CLAIMED) == "proof"
