"""Consent: denied until granted, append-only history, and `may` as every read will ask it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import LiveServer, make_key
from trustable.bootstrap import Trustable
from trustable.consent.service import (
    ConsentMethod,
    ConsentStatus,
    Decisions,
    consent_history,
    current_consents,
    decisions_for,
    record_consent,
    record_for_identifiers,
)
from trustable.core.errors import InvalidInput

PERSONALIZE = "personalize.content.profiled"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def new_customer(app: Trustable) -> str:
    with app.uow() as uow:
        record = record_for_identifiers(
            uow,
            app.vault,
            app.policy,
            idents=[("user_id", "c-1")],
            purpose=PERSONALIZE,
            status=ConsentStatus.denied,
            method=ConsentMethod.import_,
            now=T0,
            actor="test",
        )
        uow.commit()
    return record.customer_id


def test_consent_purposes_are_denied_until_granted(app: Trustable) -> None:
    decisions = Decisions(app.policy, {"cus_x": {}})
    assert not decisions.may("cus_x", PERSONALIZE, "user.behavior.media_consumption")
    assert decisions.may("cus_x", "essential.service", "user.contact.email")
    # A purpose may only use the categories it declares, consent or not.
    assert not decisions.may("cus_x", "essential.service", "user.demographic.gender")


def test_unknown_purposes_and_categories_fail_closed(app: Trustable) -> None:
    decisions = Decisions(app.policy, {"cus_x": {"made.up": "granted"}})
    assert not decisions.may("cus_x", "made.up", "user.contact.email")
    assert not decisions.may("cus_x", "essential.service", "user.no_such_category")
    assert not decisions.keeps("cus_x", "user.no_such_category")


def test_history_is_append_only_and_the_latest_decision_counts(app: Trustable) -> None:
    customer = new_customer(app)
    with app.uow() as uow:
        for i, status in enumerate([ConsentStatus.granted, ConsentStatus.withdrawn]):
            record_consent(
                uow,
                app.policy,
                vault=app.vault,
                actor="test",
                customer_id=customer,
                purpose=PERSONALIZE,
                status=status,
                method=ConsentMethod.portal,
                now=T0 + timedelta(days=i + 1),
                jurisdiction="US-CA",
            )
        uow.commit()
    with app.uow() as uow:
        history = consent_history(uow, customer)
        now = {c.purpose: c for c in current_consents(uow, app.policy, customer)}
        decisions = decisions_for(uow, app.policy, [customer])
    assert [r.status for r in history] == ["denied", "granted", "withdrawn"]
    assert all(r.notice_version == app.policy.notice_version for r in history)
    assert history[-1].jurisdiction == "US-CA" and history[-1].method == "portal"
    assert now[PERSONALIZE].status == ConsentStatus.withdrawn
    assert not now[PERSONALIZE].permitted
    assert now["essential.service"].permitted and not now["essential.service"].needs_consent
    assert not decisions.may(customer, PERSONALIZE, "user.behavior")


def test_bad_consent_input_is_refused(app: Trustable) -> None:
    customer = new_customer(app)
    with app.uow() as uow, pytest.raises(InvalidInput, match="unknown purpose"):
        record_consent(
            uow,
            app.policy,
            vault=app.vault,
            actor="test",
            customer_id=customer,
            purpose="nope",
            status=ConsentStatus.granted,
            method=ConsentMethod.api,
            now=T0,
        )
    with app.uow() as uow, pytest.raises(InvalidInput, match="ISO 3166"):
        record_consent(
            uow,
            app.policy,
            vault=app.vault,
            actor="test",
            customer_id=customer,
            purpose=PERSONALIZE,
            status=ConsentStatus.granted,
            method=ConsentMethod.api,
            now=T0,
            jurisdiction="Texas",
        )


def test_the_consent_api_reads_and_changes_consents(
    app: Trustable, live_server: LiveServer
) -> None:
    customer = new_customer(app)
    writer = {"Authorization": f"Bearer {make_key(app, 'consent:write')}"}
    reader = {"Authorization": f"Bearer {make_key(app, 'consent:read')}"}
    url = f"{live_server.url}/v1/customers/{customer}/consents"

    changed = httpx.put(f"{url}/{PERSONALIZE}", json={"status": "granted"}, headers=writer)
    assert changed.status_code == 200, changed.text
    assert changed.json()["method"] == "api" and changed.json()["receipt_id"]

    listed = httpx.get(url, headers=reader).json()
    by_purpose = {p["purpose"]: p for p in listed["purposes"]}
    assert by_purpose[PERSONALIZE]["permitted"] is True
    assert by_purpose["marketing.communications.email"]["status"] is None
    assert by_purpose["marketing.communications.email"]["permitted"] is False
    history = httpx.get(f"{url}/history", headers=reader).json()["records"]
    assert [r["status"] for r in history] == ["denied", "granted"]

    # A reader may not write; nobody may go without a key; bad input is a clear 4xx.
    assert (
        httpx.put(f"{url}/{PERSONALIZE}", json={"status": "denied"}, headers=reader).status_code
        == 403
    )
    assert httpx.get(url).status_code == 401
    bad = httpx.put(f"{url}/{PERSONALIZE}", json={"status": "maybe"}, headers=writer)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
    unknown = httpx.put(f"{url}/nope", json={"status": "granted"}, headers=writer)
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_purpose"
    missing = httpx.get(f"{live_server.url}/v1/customers/cus_nobody/consents", headers=reader)
    assert missing.status_code == 404
