"""The customer's portal over HTTP: sign-in by link or by mailed code, what it
shows, switches with receipts, the timeline's proofs, rights, and one customer
never reaching another's data."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.conftest import LiveServer, make_key
from tests.helpers import msg, send
from tests.mail import Inbox, mail_to
from tests.portal.support import csrf_of, link
from tests.rights.support import customer
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings
from trustable.ledger import merkle
from trustable.ledger.sequencer import flush
from trustable.ledger.service import head_message

PERSONALIZE = "personalize.content.profiled"
SignIn = Callable[[str], httpx.Client]


def test_a_link_signs_in_once_and_the_cookie_is_safe(
    app: Trustable, live_server: LiveServer, anonymous: httpx.Client
) -> None:
    ada = customer(app)
    url = link(app, live_server, ada)
    browser = anonymous
    entered = browser.get(url)
    assert entered.status_code == 303 and entered.headers["location"] == "/portal"
    cookie = entered.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/portal" in cookie
    assert "Secure" not in cookie  # plain HTTP here; set behind TLS
    page = browser.get("/portal")
    assert "What we hold about you" in page.text and "Ada Lovelace" in page.text
    again = httpx.get(url)  # a link works once
    assert again.status_code == 401 and "not valid" in again.text
    assert "text/html" in again.headers["content-type"]
    assert httpx.get(f"{live_server.url}/portal/enter?token=pl_forged").status_code == 401


def test_pages_carry_security_headers_and_escape_what_they_show(
    app: Trustable, live_server: LiveServer, sign_in: SignIn
) -> None:
    ada = customer(app)
    send(app, msg("identify", "ada", traits={"name": "<script>alert(1)</script>"}))
    page = sign_in(ada).get("/portal")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script" not in page.text.replace('<script src="/static/portal.js" defer>', "")


def test_signing_in_by_email_code(
    settings: Settings, inbox: tuple[Inbox, int], live_server_for: Callable[..., LiveServer]
) -> None:
    app = bootstrap(replace(settings, mail=mail_to(inbox[1])))
    try:
        ada = customer(app, email="ada@example.org")
        with httpx.Client(base_url=live_server_for(app).url) as browser:
            _sign_in_by_code(app, browser, inbox[0], ada)
    finally:
        app.close()


def _sign_in_by_code(app: Trustable, browser: httpx.Client, mailbox: Inbox, ada: str) -> None:
    asked = browser.post("/portal/signin", data={"email": "ada@example.org"})
    assert asked.status_code == 200 and "6-digit code" in asked.text
    unknown = browser.post("/portal/signin", data={"email": "nobody@example.org"})
    assert unknown.text.count("6-digit code") == asked.text.count("6-digit code")
    app.mailer.flush()
    assert len(mailbox.messages) == 1  # only the address on file got a code
    (code,) = mailbox.codes_for("ada@example.org")
    request_id = asked.text.split('name="request_id" value="')[1].split('"')[0]
    wrong = browser.post("/portal/signin/code", data={"request_id": request_id, "code": "000000"})
    assert wrong.status_code == 400 and "wrong or expired" in wrong.text
    done = browser.post(
        "/portal/signin/code",
        data={"request_id": request_id, "code": code},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "What we hold about you" in done.text
    # The timeline tells the sign-in as one; "Your requests" lists only requests filed.
    assert "You signed in here with a code we mailed you" in done.text
    assert "Your request to see your data" not in done.text
    filed = done.text.split('id="requests"')[1].split("</section>")[0]
    assert "None yet." in filed and "<table>" not in filed
    with app.reader() as uow:
        from trustable.rights.service import get_request

        assert get_request(uow, request_id).state.value == "done"
        assert get_request(uow, request_id).customer_id == ada
        assert get_request(uow, request_id).channel.value == "sign_in"
        # A sign-in is not one of the requests the dashboard counts.
        from datetime import timedelta

        from trustable.dashboard.service import request_figures

        now = app.clock()
        day = timedelta(days=1)
        (access,) = [
            f
            for f in request_figures(uow, start=now - day, end=now + day, now=now)
            if f.kind == "access"
        ]
        assert (access.received, access.completed, access.open) == (0, 0, 0)


def test_a_switch_applies_at_once_and_shows_its_receipt(
    app: Trustable, live_server: LiveServer, sign_in: SignIn
) -> None:
    ada = customer(app)
    browser = sign_in(ada)
    page = browser.get("/portal").text
    assert 'aria-checked="true"' in page  # personalization granted
    turned = browser.post(
        "/portal/choices",
        data={"purpose": PERSONALIZE, "status": "withdrawn", "csrf": csrf_of(page)},
        follow_redirects=True,
    )
    assert turned.status_code == 200
    assert "Saved." in turned.text and "Recommendations made for you" in turned.text
    receipt_id = turned.url.params["receipt"]
    with app.reader() as uow:
        from trustable.consent.service import decisions_for

        decisions = decisions_for(uow, app.policy, [ada])
        assert PERSONALIZE not in decisions.permitted(ada)
    signed = browser.get(f"/portal/receipts/{receipt_id}")
    assert signed.status_code == 200
    assert signed.json()["receipt"]["consentReceiptID"] == receipt_id
    assert "Your choice for “Recommendations made for you” was recorded as withdrawn" in (
        turned.text
    )


def test_forms_without_the_sessions_token_or_from_elsewhere_are_refused(
    app: Trustable, live_server: LiveServer, sign_in: SignIn
) -> None:
    ada = customer(app)
    browser = sign_in(ada)
    forged = browser.post("/portal/choices", data={"purpose": PERSONALIZE, "status": "withdrawn"})
    assert forged.status_code == 403
    page = browser.get("/portal").text
    elsewhere = browser.post(
        "/portal/choices",
        data={"purpose": PERSONALIZE, "status": "withdrawn", "csrf": csrf_of(page)},
        headers={"Origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
    with app.reader() as uow:
        from trustable.consent.service import decisions_for

        assert PERSONALIZE in decisions_for(uow, app.policy, [ada]).permitted(ada)
    signed_out = httpx.post(
        f"{live_server.url}/portal/choices",
        data={"purpose": PERSONALIZE, "status": "withdrawn", "csrf": csrf_of(page)},
    )
    assert signed_out.status_code == 401


def test_every_timeline_entry_proves_itself_against_a_signed_head(
    app: Trustable, live_server: LiveServer, sign_in: SignIn
) -> None:
    ada = customer(app)
    browser = sign_in(ada)
    # Until the sequencer's round her history is being logged: told, not yet provable.
    waiting = browser.get("/portal").text
    assert "Being logged" in waiting and 'data-index="' not in waiting
    assert "We received an action of yours on the shop and kept" in waiting
    flush(app)
    page = browser.get("/portal").text
    assert "Being logged" not in page
    indexes = [int(i) for i in page.split('data-index="')[1:] for i in [i.split('"')[0]]]
    assert indexes and "We received an action of yours on the shop and kept" in page
    for index in indexes[:5]:
        proof = browser.get("/portal/proof", params={"index": index}).json()
        entry = base64.b64decode(proof["entry"])
        head = proof["head"]
        root = base64.b64decode(head["root"])
        path = [base64.b64decode(p) for p in proof["path"]]
        assert merkle.verify_inclusion(merkle.leaf_hash(entry), index, head["size"], path, root)
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(proof["public_key"]))
        from datetime import datetime

        signed_at = datetime.fromisoformat(head["timestamp"].replace("Z", "+00:00"))
        key.verify(base64.b64decode(head["signature"]), head_message(head["size"], root, signed_at))
        assert hashlib.sha256(b"\x00" + entry).digest() == merkle.leaf_hash(entry)


def test_one_customer_never_reaches_anothers_data(
    app: Trustable, live_server: LiveServer, sign_in: SignIn
) -> None:
    ada = customer(app)
    bob = customer(app, user="bob", email="bob@example.org")
    browser = sign_in(ada)
    flush(app)
    with app.reader() as uow:
        from trustable.ledger.service import customer_entries

        bobs = customer_entries(uow, bob)[0].index
    assert browser.get("/portal/proof", params={"index": bobs}).status_code == 404
    bobs_request = httpx.post(
        f"{live_server.url}/v1/requests",
        json={"customer_id": bob, "kind": "export"},
        headers={"Authorization": f"Bearer {make_key(app, 'requests')}"},
    ).json()["request_id"]
    assert browser.get(f"/portal/requests/{bobs_request}/export").status_code == 404
    page = browser.get("/portal").text
    assert "bob@example.org" not in page and "Bob" not in page
    # forms take no customer id: one smuggled in changes nothing but Ada's own choice
    browser.post(
        "/portal/choices",
        data={
            "purpose": PERSONALIZE,
            "status": "withdrawn",
            "csrf": csrf_of(page),
            "customer_id": bob,
        },
    )
    with app.reader() as uow:
        from trustable.consent.service import decisions_for

        decisions = decisions_for(uow, app.policy, [ada, bob])
        assert PERSONALIZE in decisions.permitted(bob)
        assert PERSONALIZE not in decisions.permitted(ada)
    with app.reader() as uow:
        from trustable.identity.service import linked_identifiers

        bobs_handle = linked_identifiers(uow, app.vault, bob)[0].handle
    refused = browser.post("/portal/unlink", data={"handle": bobs_handle, "csrf": csrf_of(page)})
    assert refused.status_code == 404


def test_download_correct_and_erase(
    app: Trustable, live_server: LiveServer, sign_in: SignIn
) -> None:
    ada = customer(app)
    browser = sign_in(ada)
    page = browser.get("/portal").text
    exported = browser.post("/portal/export", data={"csrf": csrf_of(page)}, follow_redirects=True)
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    assert exported.json()["customer_id"] == ada
    fixed = browser.post(
        "/portal/correct",
        data={"name": "name", "value": "Ada King", "csrf": csrf_of(page)},
        follow_redirects=True,
    )
    assert fixed.status_code == 200 and "Ada King" in fixed.text
    assert "rectify" in fixed.text
    confirm = browser.get("/portal/erase")
    assert "cannot be undone" in confirm.text
    unconfirmed = browser.post("/portal/erase", data={"csrf": csrf_of(confirm.text)})
    assert unconfirmed.status_code == 400 and "tick the box" in unconfirmed.text
    erased = browser.post("/portal/erase", data={"csrf": csrf_of(confirm.text), "confirm": "erase"})
    assert erased.status_code == 200 and "Certificate of erasure" in erased.text
    assert "Signature checked:" in erased.text and "destroyed" in erased.text
    assert "things you did (events)" in erased.text  # what was removed, in words
    href = erased.text.split('href="data:application/json;base64,')[1].split('"')[0]
    signed = json.loads(base64.b64decode(href))
    assert signed["certificate"]["customer"] == ada and signed["certificate"]["complete"]
    after = browser.get("/portal")  # the session died with the customer
    assert "What we hold about you" not in after.text and "Email me a code" in after.text


def test_unlinking_an_identifier_keeps_what_comes_under_it_apart(
    app: Trustable, live_server: LiveServer, sign_in: SignIn
) -> None:
    ada = customer(app)
    send(app, msg("identify", "ada", anonymousId="device-1"))
    browser = sign_in(ada)
    page = browser.get("/portal").text
    assert "anonymous_id" in page and "device-1" in page
    with app.reader() as uow:
        from trustable.identity.service import linked_identifiers

        handle = next(
            i.handle for i in linked_identifiers(uow, app.vault, ada) if i.kind == "anonymous_id"
        )
    done = browser.post(
        "/portal/unlink", data={"handle": handle, "csrf": csrf_of(page)}, follow_redirects=True
    )
    assert done.status_code == 200 and "device-1" not in done.text
    assert "You unlinked an identifier (anonymous_id)" in done.text


@pytest.mark.parametrize("header", ["1"])
def test_global_privacy_control_is_honoured_visibly(
    app: Trustable, live_server: LiveServer, sign_in: SignIn, header: str
) -> None:
    ada = customer(app)
    browser = sign_in(ada)
    page = browser.get("/portal", headers={"Sec-GPC": header})
    assert "Global Privacy Control" in page.text and "We did that just now" in page.text
    again = browser.get("/portal", headers={"Sec-GPC": header})
    assert "We did that just now" not in again.text and "We did that" in again.text
