"""Requests filed by the company for a signed-in customer: carried out at once."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from tests.rights.support import PERSONALIZE, customer, file, send
from trustable.access.reads import purpose_for, read_profile
from trustable.access.service import ApiKey
from trustable.bootstrap import Trustable
from trustable.consent.receipts import verify_document
from trustable.consent.service import decisions_for
from trustable.ledger import merkle
from trustable.ledger.sequencer import flush
from trustable.ledger.service import head_message
from trustable.rights.service import due_date


def test_the_deadline_is_a_month_under_the_gdpr_and_45_days_in_california() -> None:
    jan31 = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    assert due_date(jan31, "DE") == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
    assert due_date(jan31, None) == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
    assert due_date(jan31, "US-CA") == jan31 + timedelta(days=45)
    dec15 = datetime(2026, 12, 15, tzinfo=UTC)
    assert due_date(dec15, "FR") == datetime(2027, 1, 15, tzinfo=UTC)


def test_an_access_request_exports_everything_with_verifiable_proofs(
    app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    flush(app)  # the sequencer's round: her history is in the log, with proofs
    key = make_key(app, "requests")
    answer = file(live_server.url, key, ada, "access")
    assert answer.status_code == 201, answer.text
    filed = answer.json()
    assert filed["state"] == "done" and filed["jurisdiction"] == "DE"
    token = filed["token"]
    assert token.startswith("tr_req_")

    export = httpx.get(
        f"{live_server.url}/v1/requests/{filed['request_id']}/export",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert export.status_code == 200, export.text
    doc = orjson.loads(export.content)
    assert doc["format"] == "trustable-export/1" and doc["customer_id"] == ada
    # Each identifier says how it was confirmed: this one by the shop's own backend.
    email = {"kind": "email", "value": "ada@example.org", "confirmed": "source"}
    assert email in doc["identifiers"]
    traits = {t["name"]: t["value"] for t in doc["traits"]}
    assert traits["zip"] == "75001" and traits["name"] == "Ada Lovelace"
    assert len(doc["events"]) == 4  # the identify call and three ratings
    assert {e["fields"].get("properties.title") for e in doc["events"]} >= {"Film 0", "Film 2"}
    assert [c["purpose"] for c in doc["consent_history"]] == [PERSONALIZE]
    public_key = app.vault.public_key()
    assert all(verify_document("receipt", r, public_key) for r in doc["receipts"])
    assert [r["request_id"] for r in doc["requests"]] == [filed["request_id"]]

    # Every ledger entry about Ada is in the log the signed head commits to.
    head = doc["ledger_head"]
    root = base64.b64decode(head["root"])
    signed_at = datetime.fromisoformat(head["signed_at"].replace("Z", "+00:00"))
    public_key.verify(
        base64.b64decode(head["signature"]), head_message(head["size"], root, signed_at)
    )
    kinds = [e["kind"] for e in doc["ledger_entries"]]
    assert kinds.count("collect") == 4 and "consent" in kinds and "export" in kinds
    for entry in doc["ledger_entries"]:
        proof = [bytes.fromhex(h) for h in entry["inclusion_proof"]]
        leaf = bytes.fromhex(entry["leaf_hash"])
        assert merkle.verify_inclusion(leaf, entry["index"], head["size"], proof, root)
        assert "ada@example.org" not in orjson.dumps(entry["entry"]).decode()

    # Someone else's token, or none, opens nothing.
    other = httpx.get(f"{live_server.url}/v1/requests/{filed['request_id']}/export")
    assert other.status_code == 401
    forged = httpx.get(
        f"{live_server.url}/v1/requests/{filed['request_id']}",
        headers={"Authorization": "Bearer tr_req_not-a-real-token"},
    )
    assert forged.status_code == 404


def test_an_export_lists_what_is_still_being_logged_without_a_proof(
    app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    flush(app)
    send(app, msg("track", "ada", event="Movie Rated", properties={"movie_id": "9"}))
    filed = file(live_server.url, make_key(app, "requests"), ada, "access").json()
    url = f"{live_server.url}/v1/requests/{filed['request_id']}/export"
    auth = {"Authorization": f"Bearer {filed['token']}"}
    doc = orjson.loads(httpx.get(url, headers=auth).content)
    # The new rating, and the request's own steps, wait for the sequencer's next round.
    [waiting] = [w for w in doc["being_logged"] if w["kind"] == "collect"]
    assert waiting["status"] == "being logged"
    assert "i" not in waiting["entry"] and "inclusion_proof" not in waiting
    assert [e["kind"] for e in doc["ledger_entries"]].count("collect") == 4  # the earlier ones
    page = httpx.get(url, params={"format": "html"}, headers=auth).text
    assert "Being logged" in page and "<td>being logged</td>" in page

    flush(app)  # its round comes: the next export proves it like the others
    again = file(live_server.url, make_key(app, "requests", name="again"), ada, "access").json()
    doc = orjson.loads(
        httpx.get(
            f"{live_server.url}/v1/requests/{again['request_id']}/export",
            headers={"Authorization": f"Bearer {again['token']}"},
        ).content
    )
    assert "collect" not in [w["kind"] for w in doc["being_logged"]]
    assert [e["kind"] for e in doc["ledger_entries"]].count("collect") == 5


def test_the_html_export_is_readable_and_escapes_every_value(
    app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    send(app, msg("identify", "ada", traits={"name": "<script>alert(1)</script>"}))
    filed = file(live_server.url, make_key(app, "requests"), ada, "export").json()
    page = httpx.get(
        f"{live_server.url}/v1/requests/{filed['request_id']}/export",
        params={"format": "html"},
        headers={"Authorization": f"Bearer {filed['token']}"},
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Everything Demo Shop holds about you" in page.text and "Film 1" in page.text


def test_the_html_export_may_show_its_own_style_and_do_nothing_else(
    app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    filed = file(live_server.url, make_key(app, "requests"), ada, "export").json()
    token = {"Authorization": f"Bearer {filed['token']}"}
    url = f"{live_server.url}/v1/requests/{filed['request_id']}/export"
    page = httpx.get(url, params={"format": "html"}, headers=token)
    assert page.status_code == 200
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    csp = [d.strip() for d in page.headers["content-security-policy"].split(";")]
    (style,) = re.findall(r"<style>(.*?)</style>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert csp == [
        "default-src 'none'",
        f"style-src 'sha256-{digest}'",  # its one inline style, by hash, and no other
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "sandbox",
    ]
    assert "<script" not in page.text and "style=" not in page.text

    download = httpx.get(url, headers=token)
    assert download.status_code == 200
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"].startswith("default-src 'none'")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store"


def test_an_objection_stops_even_a_purpose_that_needs_no_consent(
    app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    security = "essential.service.security"
    with app.reader() as uow:
        assert security in decisions_for(uow, app.policy, [ada]).permitted(ada)
    answer = file(
        live_server.url,
        make_key(app, "requests"),
        ada,
        "object",
        purposes=[security, PERSONALIZE],
    )
    assert answer.json()["state"] == "done"
    with app.reader() as uow:
        permitted = decisions_for(uow, app.policy, [ada]).permitted(ada)
    assert security not in permitted and PERSONALIZE not in permitted
    assert "essential.service" in permitted  # a contract is not objected to this way
    unknown = file(live_server.url, make_key(app, "requests"), ada, "object", purposes=["x.y"])
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_purpose"


def test_a_restricted_customer_is_used_for_nothing_until_lifted(
    app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    reader = ApiKey("key_r", "reader", frozenset({f"read:{PERSONALIZE}"}))
    purpose = purpose_for(reader, app.policy, PERSONALIZE)

    def readable() -> int:
        with app.reader() as uow:
            found = read_profile(uow, app.vault, app.policy, customer_id=ada, purpose=purpose)
        return len(found.events)

    assert readable() == 4  # the identify call (age) and three ratings
    assert file(live_server.url, make_key(app, "requests"), ada, "restrict").json()["state"] == (
        "done"
    )
    assert readable() == 0
    with app.reader() as uow:
        assert decisions_for(uow, app.policy, [ada]).permitted(ada) == frozenset()
    admin = {"Authorization": f"Bearer {make_key(app, 'admin')}"}
    lifted = httpx.delete(f"{live_server.url}/v1/customers/{ada}/restriction", headers=admin)
    assert lifted.status_code == 204
    assert readable() == 4  # the identify call (age) and three ratings
    again = httpx.delete(f"{live_server.url}/v1/customers/{ada}/restriction", headers=admin)
    assert again.status_code == 404


def test_the_queue_lists_filters_flags_overdue_and_refuses_with_a_reason(
    app: Trustable, live_server: LiveServer
) -> None:
    ada = customer(app)
    admin = {"Authorization": f"Bearer {make_key(app, 'admin')}"}
    done = file(live_server.url, make_key(app, "requests"), ada, "access").json()
    listed = httpx.get(f"{live_server.url}/v1/requests", headers=admin).json()
    assert [r["request_id"] for r in listed] == [done["request_id"]]
    assert listed[0]["token"] is None  # a token is shown once, when issued
    assert (
        httpx.get(
            f"{live_server.url}/v1/requests", params={"state": "refused"}, headers=admin
        ).json()
        == []
    )
    refused = httpx.post(
        f"{live_server.url}/v1/requests/{done['request_id']}/refuse",
        json={"reason": "already answered"},
        headers=admin,
    )
    assert refused.status_code == 409  # a finished request stays finished
    reader = {"Authorization": f"Bearer {make_key(app, f'read:{PERSONALIZE}')}"}
    assert httpx.get(f"{live_server.url}/v1/requests", headers=reader).status_code == 403
    missing = file(live_server.url, make_key(app, "requests"), "cus_nobody", "access")
    assert missing.status_code == 404


def test_a_correction_overwrites_the_old_value_everywhere_and_tells_destinations(
    app: Trustable, live_server: LiveServer
) -> None:
    from trustable.events.service import customer_events, customer_traits
    from trustable.identity.service import find_customer, linked_identifiers

    ada = customer(app)
    key = make_key(app, "requests")
    fixed = file(
        live_server.url,
        key,
        ada,
        "rectify",
        correction={"target": "trait", "name": "zip", "value": "75002"},
    )
    assert fixed.json()["state"] == "done", fixed.text
    moved = file(
        live_server.url,
        key,
        ada,
        "rectify",
        correction={"target": "identifier", "name": "email", "value": "ada@new.example"},
    )
    assert moved.json()["state"] == "done", moved.text
    with app.reader() as uow:
        traits = customer_traits(uow, app.vault, ada)
        held = orjson.dumps([e.fields for e in customer_events(uow, app.vault, ada)])
        # Saying an address is yours does not make it a contact: it awaits proof.
        assert find_customer(uow, app.vault, "email", "ada@new.example") is None
        assert find_customer(uow, app.vault, "email", "ada@example.org") is None
        linked = {(i.kind, i.value): i.verified_by for i in linked_identifiers(uow, app.vault, ada)}
    assert linked[("email", "ada@new.example")] is None
    assert ("email", "ada@example.org") not in linked
    assert traits["zip"] == "75002" and traits["email"] == "ada@new.example"
    assert b"75001" not in held and b"ada@example.org" not in held

    other = customer(app, user="bob", email="bob@example.org")
    customer(app, user="cyd", email="cyd@example.org")  # a contact the shop vouched for
    taken = file(
        live_server.url,
        key,
        other,
        "rectify",
        correction={"target": "identifier", "name": "email", "value": "CYD@example.org"},
    ).json()
    assert taken["state"] == "refused" and "cannot be used" in taken["refusal"]
    for correction, message in (
        ({"target": "trait", "name": "favourite_colour", "value": "red"}, "not a trait"),
        ({"target": "identifier", "name": "user_id", "value": "x"}, "can be corrected"),
        ({"target": "identifier", "name": "email", "value": "nope"}, "email address"),
    ):
        bad = file(live_server.url, key, ada, "rectify", correction=correction)
        assert bad.status_code == 400 and message in bad.json()["message"]
