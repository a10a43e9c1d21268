"""Consent receipts: every change yields one, signed with the ledger's key, fetchable later,
verifiable with Ed25519 alone, and free of personal data."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from trustable.bootstrap import Trustable, bootstrap
from trustable.consent.receipts import (
    RECEIPT_VERSION,
    build_receipt,
    dpv_purpose,
    sign_receipt,
    verify_receipt,
)
from trustable.consent.service import ConsentMethod, ConsentRecord, ConsentStatus
from trustable.core.settings import Settings, example_policy_path
from trustable.identity.service import find_customer
from trustable.ledger.service import encode
from trustable.policy.service import parse_policy

PERSONALIZE = "personalize.content.profiled"
ADS = "marketing.advertising.third_party.targeted"
KANTARA_TOP = {
    "version",
    "jurisdiction",
    "consentTimestamp",
    "collectionMethod",
    "consentReceiptID",
    "publicKey",
    "language",
    "piiPrincipalId",
    "piiControllers",
    "policyUrl",
    "services",
    "sensitive",
    "spiCat",
}
KANTARA_PURPOSE = {
    "purpose",
    "purposeCategory",
    "consentType",
    "piiCategory",
    "primaryPurpose",
    "termination",
    "thirdPartyDisclosure",
}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def the_purpose(signed: dict[str, Any]) -> dict[str, Any]:
    (service,) = signed["receipt"]["services"]
    (purpose,) = service["purposes"]
    assert isinstance(purpose, dict)
    return purpose


def grant_by_user_id(server: LiveServer, key: str, user_id: str, **extra: Any) -> httpx.Response:
    body = {"user_id": user_id, "purpose": PERSONALIZE, "status": "granted", **extra}
    answer = httpx.post(f"{server.url}/v1/consents", json=body, headers=auth(key))
    assert answer.status_code == 200, answer.text
    return answer


def ledger_public_key(server: LiveServer, key: str) -> str:
    answer = httpx.get(f"{server.url}/v1/ledger/public-key", headers=auth(key))
    assert answer.status_code == 200, answer.text
    found = answer.json()["public_key"]
    assert isinstance(found, str)
    return found


def a_record(**changes: Any) -> ConsentRecord:
    base = ConsentRecord(
        receipt_id="0b6f3c1e-5d2a-4e8f-9a7b-3c4d5e6f7a8b",
        customer_id="cus_test",
        purpose=PERSONALIZE,
        status=ConsentStatus.granted,
        method=ConsentMethod.portal,
        notice_version="2026-11-01",
        jurisdiction="DE",
        recorded_at=datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC),
    )
    return replace(base, **changes)


# -- a change yields its receipt ---------------------------------------------------


def test_a_consent_change_over_http_returns_its_signed_receipt_at_once(
    app: Trustable, live_server: LiveServer
) -> None:
    writer = make_key(app, "consent:write")
    user = grant_by_user_id(live_server, writer, "r-1", status="denied").json()
    url = f"{live_server.url}/v1/customers/{user['customer_id']}/consents/{PERSONALIZE}"

    answer = httpx.put(url, json={"status": "granted", "jurisdiction": "DE"}, headers=auth(writer))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    # What the answer said before receipts existed is still there, unchanged.
    assert body["status"] == "granted" and body["method"] == "api"
    assert body["purpose"] == PERSONALIZE and body["jurisdiction"] == "DE"
    signed = body["receipt"]
    receipt = signed["receipt"]
    assert KANTARA_TOP <= set(receipt)
    assert receipt["version"] == RECEIPT_VERSION == "KI-CR-v1.1.0"
    assert receipt["consentReceiptID"] == body["receipt_id"]
    assert uuid.UUID(receipt["consentReceiptID"]).version == 4
    assert receipt["jurisdiction"] == "DE"
    assert receipt["collectionMethod"] == "api"
    assert receipt["language"] == "en"
    assert receipt["piiPrincipalId"] == body["customer_id"]
    assert receipt["noticeVersion"] == app.policy.notice_version
    recorded = datetime.fromisoformat(body["recorded_at"])
    assert receipt["consentTimestamp"] == int(recorded.timestamp())
    assert isinstance(receipt["consentTimestamp"], int)
    (controller,) = receipt["piiControllers"]
    assert controller["piiController"] == app.policy.spec.organization.name
    assert controller["contact"] == app.policy.spec.organization.contact
    assert receipt["sensitive"] is False and receipt["spiCat"] == []

    purpose = the_purpose(signed)
    assert KANTARA_PURPOSE <= set(purpose)
    assert purpose["purposeCategory"] == [PERSONALIZE]
    assert purpose["piiCategory"] == app.policy.purposes[PERSONALIZE].spec.categories
    assert purpose["purpose"] == app.policy.purposes[PERSONALIZE].spec.description
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["primaryPurpose"] is False
    assert purpose["thirdPartyDisclosure"] is False and "thirdPartyName" not in purpose
    assert purpose["dpv:hasConsentStatus"] == "dpv:ConsentGiven"
    assert purpose["dpv:hasPurpose"] == ["dpv:ServicePersonalisation"]
    assert purpose["dpv:hasLegalBasis"] == "dpv:Consent"
    assert signed["signature"]["alg"] == "Ed25519"
    assert signed["signature"]["publicKey"] == receipt["publicKey"]


def test_each_decision_names_its_own_dpv_consent_status(
    app: Trustable, live_server: LiveServer
) -> None:
    writer = make_key(app, "consent:write")
    seen, ends = {}, {}
    for status in ("granted", "withdrawn", "denied"):
        signed = grant_by_user_id(live_server, writer, "r-2", status=status).json()["receipt"]
        seen[status] = the_purpose(signed)["dpv:hasConsentStatus"]
        ends[status] = the_purpose(signed)["termination"]
    assert seen == {
        "granted": "dpv:ConsentGiven",
        "withdrawn": "dpv:ConsentWithdrawn",
        "denied": "dpv:ConsentRefused",
    }
    # A grant tells how to withdraw it; a refusal, that nothing is in force.
    assert ends["granted"].startswith("Until you withdraw it")
    assert ends["withdrawn"] == ends["denied"]
    assert ends["denied"].startswith("No consent is in force")


def test_a_gpc_opt_out_yields_a_receipt_too(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    reader = make_key(app, "consent:read")
    batch = {"batch": [msg("track", "r-3", event="Viewed")], "writeKey": write_key}
    httpx.post(f"{live_server.url}/v1/batch", json=batch, headers={"Sec-GPC": "1"})
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", "r-3")
    history = httpx.get(
        f"{live_server.url}/v1/customers/{customer}/consents/history", headers=auth(reader)
    ).json()["records"]
    (record,) = [r for r in history if r["purpose"] == ADS]

    answer = httpx.get(
        f"{live_server.url}/v1/consents/receipts/{record['receipt_id']}", headers=auth(reader)
    )

    assert answer.status_code == 200, answer.text
    signed = answer.json()
    assert signed["receipt"]["collectionMethod"] == "gpc"
    purpose = the_purpose(signed)
    assert purpose["dpv:hasConsentStatus"] == "dpv:ConsentRefused"
    assert purpose["dpv:hasPurpose"] == ["dpv:PersonalisedAdvertising"]
    # Ads on other websites hand data to partners the default policy does not name.
    assert purpose["thirdPartyDisclosure"] is True
    assert purpose["thirdPartyName"] == "not named in the policy"


# -- anyone can check it -----------------------------------------------------------


def test_the_receipt_verifies_with_the_ledger_public_key_and_ed25519_alone(
    app: Trustable, live_server: LiveServer
) -> None:
    writer = make_key(app, "consent:write")
    signed = grant_by_user_id(live_server, writer, "r-4").json()["receipt"]
    published = ledger_public_key(live_server, make_key(app, "consent:read"))

    # What a customer does with any JSON library and any Ed25519 implementation:
    # canonical bytes = JSON, keys sorted, no whitespace, UTF-8.
    message = json.dumps(
        signed["receipt"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(published))
    key.verify(base64.b64decode(signed["signature"]["value"]), message)  # raises if wrong

    assert message == encode(signed["receipt"])
    assert signed["receipt"]["publicKey"] == published
    assert verify_receipt(signed, published)
    assert verify_receipt(signed, app.vault.public_key())


def test_a_tampered_receipt_or_signature_does_not_verify(app: Trustable) -> None:
    key = app.vault.public_key()
    signed = sign_receipt(build_receipt(a_record(), app.policy, "unused"), app.vault)
    assert verify_receipt(signed, key)

    refused = json.loads(json.dumps(signed))
    the_purpose(refused)["dpv:hasConsentStatus"] = "dpv:ConsentRefused"
    assert not verify_receipt(refused, key)

    later = json.loads(json.dumps(signed))
    later["receipt"]["consentTimestamp"] += 1
    assert not verify_receipt(later, key)

    flipped = json.loads(json.dumps(signed))
    raw = bytearray(base64.b64decode(flipped["signature"]["value"]))
    raw[0] ^= 1
    flipped["signature"]["value"] = base64.b64encode(bytes(raw)).decode()
    assert not verify_receipt(flipped, key)
    with pytest.raises(InvalidSignature):
        key.verify(bytes(raw), encode(signed["receipt"]))

    # A forger can sign with a key of their own and name it inside: it still fails
    # against the ledger's key, which is why the key must come from the ledger API.
    forger = Ed25519PrivateKey.generate()
    forged = {
        "receipt": refused["receipt"],
        "signature": {
            "alg": "Ed25519",
            "value": base64.b64encode(forger.sign(encode(refused["receipt"]))).decode(),
            "publicKey": base64.b64encode(forger.public_key().public_bytes_raw()).decode(),
        },
    }
    assert not verify_receipt(forged, key)

    for broken in (
        {},
        {"receipt": signed["receipt"]},
        {**signed, "signature": {**signed["signature"], "alg": "HS256"}},
        {**signed, "signature": {**signed["signature"], "value": "not base64!"}},
        {**signed, "receipt": "a string"},
    ):
        assert not verify_receipt(broken, key)
    assert not verify_receipt(signed, "not a key")


# -- it says nothing about the person ------------------------------------------------


def test_the_receipt_holds_no_personal_data(
    app: Trustable, live_server: LiveServer, server_key: str
) -> None:
    email, name, user_id = "ada.lovelace@example.org", "Ada Lovelace", "crm-ada-1815"
    identify = msg("identify", user_id, traits={"email": email, "name": name})
    sent = httpx.post(
        f"{live_server.url}/v1/batch", json={"batch": [identify], "writeKey": server_key}
    )
    assert sent.status_code == 200, sent.text
    writer = make_key(app, "consent:write")

    answer = grant_by_user_id(live_server, writer, user_id)
    fetched = httpx.get(
        f"{live_server.url}/v1/consents/receipts/{answer.json()['receipt_id']}",
        headers=auth(writer),
    )

    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "email", email)
    assert customer is not None and customer.startswith("cus_")
    assert answer.json()["receipt"]["receipt"]["piiPrincipalId"] == customer
    assert fetched.status_code == 200, fetched.text
    for text in (answer.text, fetched.text, encode(answer.json()["receipt"]).decode()):
        for personal in (email, name, user_id):
            assert personal.lower() not in text.lower()


# -- it can be fetched again ---------------------------------------------------------


def test_the_receipt_route_returns_the_very_receipt_the_change_returned(
    app: Trustable, live_server: LiveServer
) -> None:
    writer = make_key(app, "consent:write")
    reader = make_key(app, "consent:read")
    first = grant_by_user_id(live_server, writer, "r-5", jurisdiction="US-CA").json()
    second = grant_by_user_id(live_server, writer, "r-5", status="withdrawn").json()

    def fetch(receipt_id: str, key: str) -> dict[str, Any]:
        answer = httpx.get(
            f"{live_server.url}/v1/consents/receipts/{receipt_id}", headers=auth(key)
        )
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert isinstance(found, dict)
        return found

    # Byte for byte, signature included (Ed25519 signs deterministically); a reader
    # key or a writer key, and an id in capitals, all find it.
    assert fetch(first["receipt_id"], reader) == first["receipt"]
    assert fetch(first["receipt_id"].upper(), writer) == first["receipt"]
    assert fetch(second["receipt_id"], reader) == second["receipt"]
    assert first["receipt_id"] != second["receipt_id"]
    assert first["receipt"]["receipt"]["jurisdiction"] == "US-CA"
    assert second["receipt"]["receipt"]["jurisdiction"] is None


def test_unknown_and_malformed_ids_and_missing_scopes_get_clear_4xx(
    app: Trustable, live_server: LiveServer
) -> None:
    writer = make_key(app, "consent:write")
    receipt_id = grant_by_user_id(live_server, writer, "r-6").json()["receipt_id"]
    base = f"{live_server.url}/v1/consents/receipts"

    unknown = httpx.get(f"{base}/{uuid.uuid4()}", headers=auth(writer))
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_receipt" and unknown.json()["message"]

    for malformed in ("not-a-uuid", receipt_id + "0", receipt_id.replace("-", ""), "%20"):
        answer = httpx.get(f"{base}/{malformed}", headers=auth(writer))
        assert answer.status_code == 400, malformed
        assert answer.json()["code"] == "invalid_receipt_id" and answer.json()["message"]

    assert httpx.get(f"{base}/{receipt_id}").status_code == 401
    collect_only = httpx.get(f"{base}/{receipt_id}", headers=auth(make_key(app, "collect")))
    assert collect_only.status_code == 403 and collect_only.json()["code"]


# -- built from the record and the policy, nothing else ------------------------------


def test_the_same_record_always_gives_the_same_receipt(app: Trustable) -> None:
    record = a_record()
    key = base64.b64encode(app.vault.public_key().public_bytes_raw()).decode()
    one = sign_receipt(build_receipt(record, app.policy, key), app.vault)
    two = sign_receipt(build_receipt(record, app.policy, key), app.vault)
    assert encode(one) == encode(two)
    assert one["receipt"]["recordedAt"] == "2026-11-20T10:00:00.123456Z"
    assert one["receipt"]["consentTimestamp"] == 1_795_168_800


def test_essential_purposes_say_they_are_primary_and_rest_on_their_own_basis() -> None:
    policy = parse_policy(example_policy_path().read_text())
    service = build_receipt(a_record(purpose="essential.service"), policy, "k")["services"][0]
    security = build_receipt(a_record(purpose="essential.service.security"), policy, "k")
    (purpose,) = service["purposes"]
    assert purpose["primaryPurpose"] is True
    assert purpose["dpv:hasLegalBasis"] == "dpv:Contract"
    assert purpose["dpv:hasPurpose"] == ["dpv:ServiceProvision"]
    assert "not on consent" in purpose["termination"]
    (security_purpose,) = security["services"][0]["purposes"]
    assert security_purpose["dpv:hasPurpose"] == ["dpv:EnforceSecurity"]
    assert security_purpose["dpv:hasLegalBasis"] == "dpv:LegitimateInterest"


def test_dpv_purposes_follow_the_fideslang_family() -> None:
    assert dpv_purpose("marketing.communications.email") == "dpv:DirectMarketing"
    assert dpv_purpose("marketing") == "dpv:Marketing"
    assert dpv_purpose("analytics.reporting") == "dpv:ServiceUsageAnalytics"
    assert dpv_purpose("third_party_sharing") == "dpv:SellDataToThirdParties"
    assert dpv_purpose("personalize.content.limited") == "dpv:ServicePersonalisation"
    # No DPV purpose fits: the receipt stays silent rather than guess.
    assert dpv_purpose("train_ai_system") is None


def test_a_purpose_gone_from_the_policy_still_has_its_receipt() -> None:
    policy = parse_policy(example_policy_path().read_text())
    receipt = build_receipt(a_record(purpose="analytics.reporting.system"), policy, "k")
    (purpose,) = receipt["services"][0]["purposes"]
    assert purpose["purposeCategory"] == ["analytics.reporting.system"]
    assert purpose["piiCategory"] == [] and purpose["dpv:hasLegalBasis"] is None
    assert "no longer in the policy" in purpose["termination"]


@pytest.fixture
def sharing_app(settings: Settings, tmp_path: Path) -> Iterator[Trustable]:
    """A Trustable whose policy names a destination and a sensitive category."""
    spec = yaml.safe_load(example_policy_path().read_text())
    spec["purposes"]["analytics.reporting"]["categories"].append("user.health_and_medical")
    spec["destinations"] = {
        "warehouse": {"url": "https://warehouse.example/hook", "purposes": [ADS]},
        "adnet": {"url": "https://adnet.example/hook", "purposes": [ADS]},
    }
    path = tmp_path / "sharing.yaml"
    path.write_text(yaml.safe_dump(spec))
    trustable = bootstrap(replace(settings, policy_path=path))
    yield trustable
    trustable.close()


def test_named_recipients_and_sensitive_categories_are_on_the_receipt(
    sharing_app: Trustable,
) -> None:
    writer = make_key(sharing_app, "consent:write")
    with LiveServer(sharing_app) as server:
        ads = grant_by_user_id(server, writer, "r-7", purpose=ADS).json()["receipt"]
        stats = grant_by_user_id(server, writer, "r-7", purpose="analytics.reporting").json()
    assert the_purpose(ads)["thirdPartyDisclosure"] is True
    assert the_purpose(ads)["thirdPartyName"] == "adnet, warehouse"
    assert ads["receipt"]["sensitive"] is False
    receipt = stats["receipt"]["receipt"]
    assert receipt["sensitive"] is True
    assert receipt["spiCat"] == ["user.health_and_medical"]
    assert the_purpose(stats["receipt"])["thirdPartyDisclosure"] is False
    assert verify_receipt(stats["receipt"], sharing_app.vault.public_key())
