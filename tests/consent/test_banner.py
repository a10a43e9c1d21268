"""The consent banner over HTTP: its script, and the endpoint a public key may call
for anonymous visitors only."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from trustable.bootstrap import Trustable
from trustable.consent.receipts import verify_receipt
from trustable.consent.service import consent_history, current_consents
from trustable.identity.service import find_customer

ADS = "marketing.advertising.third_party.targeted"
ANALYTICS = "analytics.reporting"
EMAIL = "marketing.communications.email"
PERSONAL = "personalize.content.profiled"
ASKED = (ANALYTICS, ADS, EMAIL, PERSONAL)


def everything(yes: bool) -> dict[str, bool]:
    return {purpose: yes for purpose in ASKED}


def answer(
    server: LiveServer, key: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/consent/choices",
        json=body,
        auth=(key, ""),
        headers=headers or {},
    )


def states(app: Trustable, kind: str, value: str) -> dict[str, tuple[str | None, str | None]]:
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, kind, value)
        assert customer is not None
        return {
            c.purpose: (c.status, c.method) for c in current_consents(uow, app.policy, customer)
        }


def history(app: Trustable, kind: str, value: str) -> list[tuple[str, str, str]]:
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, kind, value)
        assert customer is not None
        return [(r.purpose, r.status, r.method) for r in consent_history(uow, customer)]


def collect(server: LiveServer, key: str, *messages: dict[str, Any]) -> None:
    sent = httpx.post(f"{server.url}/v1/batch", json={"batch": list(messages)}, auth=(key, ""))
    assert sent.status_code == 200, sent.text


# ---- the endpoint ------------------------------------------------------------------


def test_an_answer_is_recorded_for_the_anonymous_id_with_a_receipt_per_purpose(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    choices = {ANALYTICS: True, ADS: False, EMAIL: False, PERSONAL: True}
    sent = answer(live_server, write_key, {"anonymous_id": "anon-b1", "choices": choices})
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["notice_version"] == app.policy.notice_version
    assert {c["purpose"]: c["status"] for c in body["changes"]} == {
        ANALYTICS: "granted",
        ADS: "denied",
        EMAIL: "denied",
        PERSONAL: "granted",
    }
    assert {c["method"] for c in body["changes"]} == {"banner"}
    for change in body["changes"]:
        assert verify_receipt(change["receipt"], app.vault.public_key())
        assert change["receipt"]["receipt"]["consentReceiptID"] == change["receipt_id"]
    now = states(app, "anonymous_id", "anon-b1")
    assert now[ANALYTICS] == ("granted", "banner") and now[ADS] == ("denied", "banner")
    # Needs no consent: the banner never touches it.
    assert now["essential.service"] == (None, None)


def test_changing_the_answer_withdraws_what_was_granted(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    answer(live_server, write_key, {"anonymous_id": "anon-b2", "choices": everything(True)})
    body = {"anonymous_id": "anon-b2", "choices": everything(False)}
    again = answer(live_server, write_key, body)
    assert again.status_code == 200, again.text
    assert {s for s, _ in states(app, "anonymous_id", "anon-b2").values() if s} == {"withdrawn"}
    assert len(history(app, "anonymous_id", "anon-b2")) == 2 * len(ASKED)


@pytest.mark.parametrize("how", ["header", "body"])
def test_gpc_turns_the_purposes_it_covers_off_recorded_as_gpc(
    app: Trustable, live_server: LiveServer, write_key: str, how: str
) -> None:
    anon = f"anon-gpc-{how}"
    body: dict[str, Any] = {"anonymous_id": anon, "choices": {**everything(True), ADS: False}}
    headers = {}
    if how == "header":
        headers["Sec-GPC"] = "1"
    else:
        body["gpc"] = True
    assert answer(live_server, write_key, body, headers).status_code == 200
    now = states(app, "anonymous_id", anon)
    assert now[ADS] == ("denied", "gpc")
    assert now[ANALYTICS] == ("granted", "banner")


def test_a_user_id_is_refused_and_nothing_is_written(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    sent = answer(
        live_server,
        write_key,
        {"anonymous_id": "anon-b3", "user_id": "u-b3", "choices": everything(True)},
    )
    assert sent.status_code == 403
    assert sent.json()["code"] == "anonymous_only"
    with app.reader() as uow:
        assert find_customer(uow, app.vault, "anonymous_id", "anon-b3") is None
        assert find_customer(uow, app.vault, "user_id", "u-b3") is None


def test_an_anonymous_id_a_known_customer_holds_is_refused(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    collect(live_server, write_key, msg("identify", "u-b4", anonymousId="anon-b4"))
    before = history(app, "user_id", "u-b4")
    sent = answer(live_server, write_key, {"anonymous_id": "anon-b4", "choices": everything(True)})
    assert sent.status_code == 403
    assert sent.json()["code"] == "known_customer"
    assert history(app, "user_id", "u-b4") == before


@pytest.mark.parametrize(
    ("choices", "code"),
    [
        ({**everything(True), "essential.service": True}, "consent_not_asked"),
        ({**everything(True), "made.up": True}, "unknown_purpose"),
        ({}, "invalid_request"),
    ],
)
def test_an_answer_that_does_not_fit_the_banner_is_refused_clearly(
    live_server: LiveServer, write_key: str, choices: dict[str, bool], code: str
) -> None:
    sent = answer(live_server, write_key, {"anonymous_id": "anon-b5", "choices": choices})
    assert sent.status_code == 400
    assert sent.json()["code"] == code


def test_an_answer_for_some_purposes_leaves_the_others_and_speaks_segments_spelling(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    body = {"anonymousId": "anon-b7", "choices": {ANALYTICS: True}}
    sent = answer(live_server, write_key, body, {"Sec-GPC": "1"})
    assert sent.status_code == 200, sent.text
    now = states(app, "anonymous_id", "anon-b7")
    assert now[ANALYTICS] == ("granted", "banner")
    assert now[ADS] == ("denied", "gpc")  # the browser's signal answers for it
    assert now[EMAIL] == (None, None)
    refused = answer(
        live_server,
        write_key,
        {"anonymousId": "anon-b8", "userId": "u-b8", "choices": body["choices"]},
    )
    assert refused.status_code == 403 and refused.json()["code"] == "anonymous_only"


def test_the_endpoint_needs_a_collect_key(app: Trustable, live_server: LiveServer) -> None:
    body = {"anonymous_id": "anon-b6", "choices": everything(True)}
    assert httpx.post(f"{live_server.url}/v1/consent/choices", json=body).status_code == 401
    reader = make_key(app, "consent:read")
    assert answer(live_server, reader, body).status_code == 403


# ---- when the visitor signs in -----------------------------------------------------


def decide(app: Trustable, server: LiveServer, user: str, status: str) -> None:
    """The account's own decision on statistics, through the consent API."""
    consent = make_key(app, "consent:write")
    httpx.post(
        f"{server.url}/v1/consents",
        json={"user_id": user, "purpose": ANALYTICS, "status": status},
        headers={"Authorization": f"Bearer {consent}"},
    ).raise_for_status()


def test_a_banner_choice_stays_when_the_visitor_signs_up(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    answer(live_server, write_key, {"anonymous_id": "anon-s1", "choices": everything(True)})
    # A new user id: the anonymous history becomes theirs, nothing is joined.
    collect(live_server, write_key, msg("identify", "u-s1", anonymousId="anon-s1"))
    assert states(app, "user_id", "u-s1")[ANALYTICS] == ("granted", "banner")


def test_joined_by_the_backend_the_later_choice_wins(
    app: Trustable, live_server: LiveServer, write_key: str, server_key: str
) -> None:
    decide(app, live_server, "u-s2", "denied")
    # Later, before signing in again on another device, the visitor accepts the banner.
    answer(live_server, write_key, {"anonymous_id": "anon-s2", "choices": everything(True)})
    collect(live_server, server_key, msg("identify", "u-s2", anonymousId="anon-s2"))
    assert states(app, "user_id", "u-s2")[ANALYTICS] == ("granted", "banner")


def test_joined_on_a_public_keys_word_a_grant_never_widens_a_known_customer(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    decide(app, live_server, "u-s3", "denied")
    # Anyone with the page's key can make a history that allows everything...
    answer(live_server, write_key, {"anonymous_id": "anon-s3", "choices": everything(True)})
    # ...and join it to a user: the user's refusal stands, and nothing is newly granted.
    collect(live_server, write_key, msg("identify", "u-s3", anonymousId="anon-s3"))
    now = states(app, "user_id", "u-s3")
    assert now[ANALYTICS] == ("denied", "api")
    assert now[ADS] == (None, None)


def test_joined_on_a_public_keys_word_a_later_refusal_still_counts(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    decide(app, live_server, "u-s4", "granted")
    answer(live_server, write_key, {"anonymous_id": "anon-s4", "choices": everything(False)})
    collect(live_server, write_key, msg("identify", "u-s4", anonymousId="anon-s4"))
    assert states(app, "user_id", "u-s4")[ANALYTICS] == ("denied", "banner")


def test_a_public_key_in_events_may_narrow_a_known_customers_consent_never_widen_it(
    app: Trustable, live_server: LiveServer, write_key: str, server_key: str
) -> None:
    collect(live_server, server_key, msg("identify", "u-s5"))
    prefs = {"Analytics": True, "Advertising": False}
    collect(
        live_server,
        write_key,
        msg("track", "u-s5", event="Viewed", context={"consent": {"categoryPreferences": prefs}}),
    )
    now = states(app, "user_id", "u-s5")
    assert now[ANALYTICS] == (None, None)
    assert now[ADS] == ("denied", "banner")
    # The same signal for a visitor nobody knows yet is theirs to give.
    collect(
        live_server,
        write_key,
        msg(
            "track",
            None,
            anonymousId="anon-s5",
            event="Viewed",
            context={"consent": {"categoryPreferences": prefs}},
        ),
    )
    assert states(app, "anonymous_id", "anon-s5")[ANALYTICS] == ("granted", "banner")


# ---- from the browser --------------------------------------------------------------


def test_browser_routes_answer_cors_and_nothing_else_does(live_server: LiveServer) -> None:
    asked = {
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    for path in ("/v1/consent/choices", "/v1/batch", "/v1/track", "/v1/t", "/v1/b"):
        pre = httpx.options(f"{live_server.url}{path}", headers=asked)
        assert pre.status_code == 200, path
        assert pre.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in pre.headers
    for path in ("/v1/consents", "/v1/customers/cus_x/consents", "/admin/keys"):
        pre = httpx.options(f"{live_server.url}{path}", headers=asked)
        assert "access-control-allow-origin" not in pre.headers, path


def test_analytics_js_short_paths_and_text_plain_are_collected(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    # What analytics.js sends: JSON as text/plain, the key in the body, `/v1/t`.
    order = msg(
        "track", None, anonymousId="anon-t1", event="Order Completed", properties={"order_id": "o1"}
    )
    body = {**order, "writeKey": write_key}
    sent = httpx.post(
        f"{live_server.url}/v1/t",
        content=json.dumps(body),
        headers={"Content-Type": "text/plain", "Origin": "https://shop.example"},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["stored"] == 1
    assert sent.headers["access-control-allow-origin"] == "*"
    refused = httpx.post(
        f"{live_server.url}/v1/t", content=json.dumps(body), headers={"Content-Type": "text/html"}
    )
    assert refused.status_code == 400


def test_the_script_carries_the_policy_small_and_cacheable(
    app: Trustable, live_server: LiveServer
) -> None:
    got = httpx.get(f"{live_server.url}/consent.js", headers={"Accept-Encoding": "gzip"})
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/javascript")
    assert got.headers["content-encoding"] == "gzip"
    # What travels: the gzipped script, all languages' words included.
    assert got.num_bytes_downloaded <= 20 * 1024
    assert got.num_bytes_downloaded < len(got.content) / 2
    text = got.text
    assert "__TRUSTABLE_BANNER__" not in text
    config = json.loads(re.search(r"var CONFIG = (\{.*?\});\n", text).group(1))  # type: ignore[union-attr]
    assert config["notice_version"] == app.policy.notice_version
    assert sorted(config["ask"]) == sorted(ASKED)
    assert {e["purpose"] for e in config["always_on"]} == {
        "essential.service",
        "essential.service.security",
    }
    assert config["gpc"] == [ADS]
    assert set(config["languages"]) == {"en", "de"}
    german = config["languages"]["de"]
    assert german["texts"]["reject_all"] == "Alle ablehnen"
    assert set(german["purposes"]) == set(app.policy.spec.purposes)
    assert "Demo Shop" in german["texts"]["intro"]
    again = httpx.get(
        f"{live_server.url}/consent.js", headers={"If-None-Match": got.headers["etag"]}
    )
    assert again.status_code == 304
