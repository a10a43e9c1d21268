"""Consent signals inside events (Segment, RudderStack, IAB TCF) update consent first."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.consent.tcf import tc_string
from tests.helpers import msg
from trustable.bootstrap import Trustable
from trustable.consent.service import consent_history, current_consents
from trustable.consent.signals import decode_tcf
from trustable.core.errors import InvalidInput
from trustable.events.service import customer_events
from trustable.identity.service import find_customer

PERSONALIZE = "personalize.content.profiled"
ANALYTICS = "analytics.reporting"
ADS = "marketing.advertising.third_party.targeted"


def rated(user: str, context: dict[str, Any]) -> dict[str, Any]:
    return msg("track", user, event="Movie Rated", properties={"movie_id": "7"}, context=context)


def send(server: LiveServer, key: str, *messages: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/batch", json={"batch": list(messages), "writeKey": key})


def state(app: Trustable, user: str) -> dict[str, tuple[str | None, str | None]]:
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", user)
        assert customer is not None
        return {
            c.purpose: (c.status, c.method) for c in current_consents(uow, app.policy, customer)
        }


def events_of(app: Trustable, user: str) -> list[dict[str, Any]]:
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", user)
        assert customer is not None
        return [e.fields for e in customer_events(uow, app.vault, customer)]


def test_segment_category_preferences_apply_before_the_event_is_filtered(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    prefs = {"consent": {"categoryPreferences": {"Personalization": True, "Advertising": False}}}
    assert send(live_server, write_key, rated("s1", prefs)).status_code == 200
    now = state(app, "s1")
    assert now[PERSONALIZE] == ("granted", "banner")
    assert now[ADS] == ("denied", "banner")
    # Left out of a present object: false (Segment's rule).
    assert now[ANALYTICS] == ("denied", "banner")
    # The event that carried the grant was kept under it.
    assert events_of(app, "s1") == [{"event": "Movie Rated", "properties.movie_id": "7"}]


def test_an_unchanged_signal_is_not_recorded_again_and_a_change_is(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    yes = {"consent": {"categoryPreferences": {"Personalization": True}}}
    no = {"consent": {"categoryPreferences": {"Personalization": False}}}
    send(live_server, write_key, rated("s2", yes), rated("s2", yes))
    send(live_server, write_key, rated("s2", no))
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", "s2")
        assert customer is not None
        mine = [r for r in consent_history(uow, customer) if r.purpose == PERSONALIZE]
    assert [r.status for r in mine] == ["granted", "withdrawn"]
    assert len(events_of(app, "s2")) == 2  # the third event came after the withdrawal


def test_rudderstack_consent_ids_allow_and_deny(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    managed = {
        "consentManagement": {
            "provider": "oneTrust",
            "resolutionStrategy": "and",
            "allowedConsentIds": ["C0003"],
            "deniedConsentIds": ["C0002", "C0004"],
        }
    }
    assert send(live_server, write_key, rated("r1", managed)).status_code == 200
    now = state(app, "r1")
    assert now[PERSONALIZE] == ("granted", "banner")
    assert now[ANALYTICS] == ("denied", "banner") and now[ADS] == ("denied", "banner")
    assert now["marketing.communications.email"] == (None, None)  # not named: unchanged


def test_a_tcf_string_grants_the_mapped_purposes(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    tc = tc_string({1, 6})
    assert decode_tcf(tc, "x")[6] is True
    context = {"consent": {"tcString": tc}}
    assert send(live_server, write_key, rated("t1", context)).status_code == 200
    now = state(app, "t1")
    assert now[PERSONALIZE] == ("granted", "tcf")
    assert now[ADS] == ("denied", "tcf") and now[ANALYTICS] == ("denied", "tcf")


def test_when_signals_disagree_no_wins(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    context = {
        "consent": {"categoryPreferences": {"Personalization": True}, "tcString": tc_string(set())},
    }
    send(live_server, write_key, rated("t2", context))
    assert state(app, "t2")[PERSONALIZE][0] == "denied"


@pytest.mark.parametrize(
    ("context", "code"),
    [
        ({"consent": {"tcString": "not-a-tc-string"}}, "invalid_tc_string"),
        ({"consent": {"tcString": 42}}, "invalid_tc_string"),
        ({"consent": {"categoryPreferences": {"Advertising": "yes"}}}, "invalid_consent_signal"),
        ({"consent": "granted"}, "invalid_consent_signal"),
        ({"consentManagement": {"allowedConsentIds": "C0003"}}, "invalid_consent_signal"),
    ],
)
def test_malformed_signals_refuse_the_batch_and_store_nothing(
    app: Trustable, live_server: LiveServer, write_key: str, context: dict[str, Any], code: str
) -> None:
    answer = send(
        live_server,
        write_key,
        msg("identify", "bad", traits={"email": "b@x.org"}),
        rated("bad", context),
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == code and "batch[1].context" in answer.json()["message"]
    with app.reader() as uow:
        assert find_customer(uow, app.vault, "user_id", "bad") is None


def test_decoding_refuses_garbage_clearly() -> None:
    with pytest.raises(InvalidInput, match="where: not a valid IAB TCF v2 consent string"):
        decode_tcf("%%%", "where")
