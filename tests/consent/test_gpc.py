"""Global Privacy Control: `Sec-GPC: 1` opts out of sale, sharing and targeted ads at once."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from trustable.bootstrap import Trustable
from trustable.consent.gpc import gpc_purposes
from trustable.consent.service import consent_history, current_consents
from trustable.events.service import customer_events
from trustable.identity.service import find_customer

ADS = "marketing.advertising.third_party.targeted"


def send(server: LiveServer, key: str, user: str, headers: dict[str, str]) -> None:
    message = msg(
        "track",
        user,
        event="Order Completed",
        properties={"order_id": "o-1"},
        context={"device": {"advertisingId": "ad-123"}},
    )
    answer = httpx.post(
        f"{server.url}/v1/batch",
        json={"batch": [message], "writeKey": key},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text


def states(app: Trustable, user: str) -> dict[str, tuple[str | None, str | None]]:
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", user)
        assert customer is not None
        return {
            c.purpose: (c.status, c.method) for c in current_consents(uow, app.policy, customer)
        }


def test_gpc_withdraws_a_grant_at_once_and_the_same_event_obeys_it(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    consent = make_key(app, "consent:write")
    httpx.post(
        f"{live_server.url}/v1/consents",
        json={"user_id": "g1", "purpose": ADS, "status": "granted"},
        headers={"Authorization": f"Bearer {consent}"},
    ).raise_for_status()
    send(live_server, write_key, "g1", {"Sec-GPC": "1"})
    assert states(app, "g1")[ADS] == ("withdrawn", "gpc")
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", "g1")
        assert customer is not None
        (event,) = customer_events(uow, app.vault, customer)
        history = consent_history(uow, customer)
    # The advertising id serves only the ads purpose: the signal kept it out.
    assert "context.device.advertisingId" not in event.fields
    assert [(r.status, r.method) for r in history] == [("granted", "api"), ("withdrawn", "gpc")]


def test_a_later_request_without_the_signal_does_not_undo_it(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    send(live_server, write_key, "g2", {"Sec-GPC": "1"})
    send(live_server, write_key, "g2", {})
    send(live_server, write_key, "g2", {"Sec-GPC": "1"})
    assert states(app, "g2")[ADS] == ("denied", "gpc")
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", "g2")
        assert customer is not None
        gpc_records = [r for r in consent_history(uow, customer) if r.method == "gpc"]
    # Recorded once, not again on every request.
    assert len(gpc_records) == len(gpc_purposes(app.policy))


def test_only_the_exact_value_1_is_the_signal(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    for value in ("true", "0", "1.0", "yes", "11"):
        send(live_server, write_key, "g3", {"Sec-GPC": value})
    assert states(app, "g3")[ADS] == (None, None)


def test_gpc_touches_only_sale_sharing_and_advertising(app: Trustable) -> None:
    assert gpc_purposes(app.policy) == [ADS]


def test_the_well_known_file_announces_support(live_server: LiveServer) -> None:
    answer = httpx.get(f"{live_server.url}/.well-known/gpc.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["gpc"] is True and len(body["lastUpdate"]) == 10


def history(app: Trustable, user: str, purpose: str) -> list[tuple[str, str]]:
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", user)
        assert customer is not None
        return [
            (r.status, r.method) for r in consent_history(uow, customer) if r.purpose == purpose
        ]


def banner_event(user: str, preferences: dict[str, bool]) -> dict[str, object]:
    return msg(
        "track",
        user,
        event="Order Completed",
        properties={"order_id": "o-1"},
        context={
            "device": {"advertisingId": "ad-123"},
            "consent": {"categoryPreferences": preferences},
        },
    )


def post(server: LiveServer, key: str, message: dict[str, object], gpc: bool) -> None:
    answer = httpx.post(
        f"{server.url}/v1/batch",
        json={"batch": [message], "writeKey": key},
        headers={"Sec-GPC": "1"} if gpc else {},
    )
    assert answer.status_code == 200, answer.text


def test_gpc_with_a_banner_that_also_says_no_is_recorded_as_gpc(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    post(live_server, write_key, banner_event("g4", {"Advertising": False}), gpc=True)
    # The opt-out the browser sent is on record as its own; the banner's other
    # choices (here: analytics left out, so no) are the banner's.
    assert history(app, "g4", ADS) == [("denied", "gpc")]
    assert states(app, "g4")["analytics.reporting"] == ("denied", "banner")


def test_gpc_wins_over_a_banner_grant_in_the_same_request_and_the_event_obeys_it(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    post(
        live_server,
        write_key,
        banner_event("g5", {"Advertising": True, "Personalization": True}),
        gpc=True,
    )
    # A banner's "yes" may be a pre-checked box; the browser's signal is the person's.
    assert history(app, "g5", ADS) == [("denied", "gpc")]
    # Purposes GPC does not cover follow the banner.
    assert states(app, "g5")["personalize.content.profiled"] == ("granted", "banner")
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", "g5")
        assert customer is not None
        (event,) = customer_events(uow, app.vault, customer)
    assert "context.device.advertisingId" not in event.fields


def test_a_banner_grant_without_the_signal_is_the_banners(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    post(live_server, write_key, banner_event("g6", {"Advertising": True}), gpc=False)
    assert history(app, "g6", ADS) == [("granted", "banner")]
    # The next request with the signal withdraws a banner's grant: it was not an
    # answer to the opt-out.
    post(live_server, write_key, banner_event("g6", {"Advertising": True}), gpc=True)
    assert history(app, "g6", ADS) == [("granted", "banner"), ("withdrawn", "gpc")]


def test_the_persons_own_grant_after_the_opt_out_stands_against_later_signals(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    consent = make_key(app, "consent:write")
    send(live_server, write_key, "g7", {"Sec-GPC": "1"})
    httpx.post(
        f"{live_server.url}/v1/consents",
        json={"user_id": "g7", "purpose": ADS, "status": "granted"},
        headers={"Authorization": f"Bearer {consent}"},
    ).raise_for_status()
    # Their browser keeps sending the signal; their explicit opt-in is the later word.
    send(live_server, write_key, "g7", {"Sec-GPC": "1"})
    post(live_server, write_key, banner_event("g7", {"Advertising": False}), gpc=True)
    assert history(app, "g7", ADS) == [("denied", "gpc"), ("granted", "api")]
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", "g7")
        assert customer is not None
        kept = [e.fields for e in customer_events(uow, app.vault, customer)]
    assert kept[0].get("context.device.advertisingId") is None
    assert kept[1]["context.device.advertisingId"] == "ad-123"
