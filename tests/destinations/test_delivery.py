"""Delivery to destinations: only what is consented at send time, nothing lost, all logged."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests import helpers
from tests.conftest import LiveServer, make_key
from tests.destinations.receiver import Receiver, free_port
from tests.helpers import msg, send
from trustable.bootstrap import Trustable, bootstrap
from trustable.consent.service import ConsentMethod, ConsentStatus, record_for_identifiers
from trustable.core.clock import FixedClock
from trustable.core.errors import ConfigurationError, PolicyError
from trustable.core.settings import Settings, example_policy_path
from trustable.destinations.service import check_destinations
from trustable.destinations.worker import Worker
from trustable.identity.service import find_customer
from trustable.ledger import service as ledger
from trustable.ledger.sequencer import flush
from trustable.policy.service import parse_policy

PERSONALIZE = "personalize.content.profiled"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def policy_with(url: str, *, attempts: int = 4, timeout: float = 0.5) -> str:
    return example_policy_path().read_text() + (
        "\ndestinations:\n"
        "  recommender:\n"
        f"    url: {url}\n"
        f"    purposes: [{PERSONALIZE}]\n"
        "    mapping: {properties.movie_id: item}\n"
        f"    timeout_seconds: {timeout}\n"
        f"    max_attempts: {attempts}\n"
    )


def boot(settings: Settings, tmp_path: Path, url: str, **kwargs: Any) -> Trustable:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_with(url, **kwargs))
    return bootstrap(replace(settings, policy_path=policy), clock=FixedClock(T0))


@pytest.fixture
def shop(settings: Settings, tmp_path: Path, receiver: Receiver) -> Iterator[Trustable]:
    app = boot(settings, tmp_path, receiver.url)
    yield app
    app.close()


def grant(app: Trustable, user: str, status: ConsentStatus = ConsentStatus.granted) -> None:
    helpers.grant(app, user, PERSONALIZE, status=status)


def rate(app: Trustable, user: str, movie: str = "1") -> None:
    message = msg(
        "track",
        user,
        event="Movie Rated",
        properties={"movie_id": movie, "rating": 5, "order_id": "o-1"},
        context={"ip": "203.0.113.9"},
    )
    send(app, message)


def advance(app: Trustable, seconds: float) -> None:
    assert isinstance(app.clock, FixedClock)
    app.clock.now += timedelta(seconds=seconds)


def shares(app: Trustable, user: str) -> list[dict[str, Any]]:
    flush(app)
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", user)
        assert customer is not None
        return [e.content() for e in ledger.customer_entries(uow, customer) if e.kind == "share"]


def test_a_destination_receives_only_what_its_purposes_may_use(
    shop: Trustable, receiver: Receiver
) -> None:
    grant(shop, "u1")
    rate(shop, "u1")
    outcome = Worker(shop).run_once()
    assert outcome == {"delivered": 1}
    (request,) = receiver.received
    body = orjson.loads(request.body)
    # Behaviour serves personalization (mapped names applied); the IP address does not.
    # The event's name goes beside its type and id, which every receiver gets.
    assert (body["type"], body["event"]) == ("track", "Movie Rated")
    assert len(body["messageId"]) == 36 and body["messageId"] != body["id"]  # the SDK's uuid
    assert body["fields"] == {
        "item": "1",
        "properties.rating": 5,
        "properties.order_id": "o-1",
    }
    assert b"203.0.113.9" not in request.body
    assert body["purposes"] == [PERSONALIZE] and "userId" not in body
    assert request.headers["Idempotency-Key"] == body["id"]
    # The receiver can check the sender with the shared secret.
    stamp, mac = (
        part.split("=", 1)[1] for part in request.headers["X-Trustable-Signature"].split(",")
    )
    secret = shop.vault.destination_secret("recommender")
    expected = hmac.new(secret, f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    (share,) = shares(shop, "u1")
    assert share["detail"]["destination"] == "recommender"
    assert "user.behavior.media_consumption" in share["detail"]["categories"]


def test_nothing_is_queued_without_consent(shop: Trustable, receiver: Receiver) -> None:
    rate(shop, "u2")
    assert Worker(shop).run_once() == {}
    assert receiver.received == []


def test_consent_withdrawn_before_delivery_sends_nothing(
    shop: Trustable, receiver: Receiver
) -> None:
    grant(shop, "u3")
    rate(shop, "u3")
    grant(shop, "u3", ConsentStatus.withdrawn)
    assert Worker(shop).run_once() == {"skipped": 1}
    assert receiver.received == [] and shares(shop, "u3") == []


@pytest.mark.parametrize("failure", ["500", "slow", "garbage"])
def test_failures_are_retried_with_backoff_and_the_same_key(
    shop: Trustable, receiver: Receiver, failure: str
) -> None:
    grant(shop, "u4")
    rate(shop, "u4")
    receiver.script.extend([failure, failure])
    worker = Worker(shop)
    assert worker.run_once() == {"pending": 1}
    assert worker.run_once() == {}  # not due yet: backing off
    advance(shop, 400)
    assert worker.run_once() == {"pending": 1}
    advance(shop, 400)
    assert worker.run_once() == {"delivered": 1}
    keys = {r.headers["Idempotency-Key"] for r in receiver.received}
    assert len(receiver.received) == 3 and len(keys) == 1
    assert len(shares(shop, "u4")) == 1


def test_an_unreachable_destination_loses_nothing(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    app = boot(settings, tmp_path, f"http://127.0.0.1:{port}/hook")
    try:
        grant(app, "u5")
        rate(app, "u5")
        worker = Worker(app)
        assert worker.run_once() == {"pending": 1}  # connection refused
        late = Receiver(port).start()
        try:
            advance(app, 400)
            assert worker.run_once() == {"delivered": 1}
            assert len(late.received) == 1
        finally:
            late.stop()
    finally:
        app.close()


def test_a_destination_that_never_answers_ends_in_the_dead_letters(
    shop: Trustable, receiver: Receiver, live_server_for: Any
) -> None:
    grant(shop, "user-never-answered-6")
    rate(shop, "user-never-answered-6")
    receiver.script.extend(["500"] * 10)
    worker = Worker(shop)
    for _ in range(4):
        worker.run_once()
        advance(shop, 400)
    server = live_server_for(shop)
    admin = {"Authorization": f"Bearer {make_key(shop, 'admin')}"}
    listed = httpx.get(f"{server.url}/v1/destinations", headers=admin).json()
    assert listed[0]["name"] == "recommender" and listed[0]["dead"] == 1
    dead = httpx.get(f"{server.url}/v1/destinations/recommender/dead", headers=admin).json()
    assert dead[0]["attempts"] == 4 and dead[0]["last_error"] == "HTTP 500"
    assert "user-never-answered-6" not in str(dead)  # ids only, never the user id
    retried = httpx.post(f"{server.url}/v1/destinations/recommender/retry", headers=admin)
    assert retried.json() == {"requeued": 1}
    receiver.script.clear()
    assert worker.run_once() == {"delivered": 1}
    missing = httpx.get(f"{server.url}/v1/destinations/nope/dead", headers=admin)
    assert missing.status_code == 404


def test_a_destination_pointing_back_at_trustable_is_refused(shop: Trustable) -> None:
    looped = parse_policy(policy_with("http://127.0.0.1:8000/v1/batch"))
    with pytest.raises(ConfigurationError, match="points back at this Trustable"):
        check_destinations(looped, "127.0.0.1", 8000)
    check_destinations(looped, "127.0.0.1", 8001)


def test_a_destination_must_serve_declared_purposes() -> None:
    bad = policy_with("http://example.org/hook").replace(
        f"purposes: [{PERSONALIZE}]", "purposes: [marketing.sell_everything]"
    )
    with pytest.raises(PolicyError, match=r"destinations\.recommender\.purposes\[0\]"):
        parse_policy(bad)
    with pytest.raises(PolicyError, match="must be an http"):
        parse_policy(policy_with("ftp://example.org/hook"))


def test_the_live_service_queues_from_collection(
    shop: Trustable, receiver: Receiver, live_server_for: Any
) -> None:
    grant(shop, "u7")
    server: LiveServer = live_server_for(shop)
    write = make_key(shop, "collect")
    message = msg("track", "u7", event="Movie Rated", properties={"movie_id": "9"})
    answer = httpx.post(f"{server.url}/v1/batch", json={"batch": [message], "writeKey": write})
    assert answer.status_code == 200
    assert Worker(shop).run_once() == {"delivered": 1}
    assert orjson.loads(receiver.received[0].body)["fields"]["item"] == "9"


def test_a_queued_delivery_follows_its_event_when_histories_join(
    shop: Trustable, receiver: Receiver
) -> None:
    with shop.uow() as uow:
        record_for_identifiers(
            uow,
            shop.vault,
            shop.policy,
            idents=[("anonymous_id", "anon-9")],
            purpose=PERSONALIZE,
            status=ConsentStatus.granted,
            method=ConsentMethod.banner,
            now=shop.clock(),
            actor="test",
        )
        uow.commit()
    rated = msg("track", None, anonymousId="anon-9", event="Movie Rated")
    rated["properties"] = {"movie_id": "42"}
    grant(shop, "u8")
    known = msg("identify", "u8")
    joined = msg("identify", "u8", anonymousId="anon-9")
    for message in (rated, known, joined):
        send(shop, message)
    assert Worker(shop).run_once() == {"delivered": 1}
    body = orjson.loads(receiver.received[0].body)
    with shop.reader() as uow:
        assert body["customer_id"] == find_customer(uow, shop.vault, "user_id", "u8")
    assert body["fields"]["item"] == "42"
