"""Recommendations over HTTP: personal with reasons when allowed, honest when not,
and a customer who withdraws or is erased leaves the model."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import LiveServer, make_key
from tests.helpers import grant, msg, send
from trustable.bootstrap import Trustable
from trustable.client import TrustableClient
from trustable.consent.service import ConsentStatus
from trustable.identity.service import find_customer
from trustable.personalize.runner import personalization

PERSONALIZE = "personalize.content.profiled"
TITLES = {str(n): f"Film {n}" for n in range(1, 15)}


def rate(app: Trustable, user: str, ratings: dict[str, int]) -> None:
    send(
        app,
        *[
            msg(
                "track",
                user,
                event="Movie Rated",
                properties={"movie_id": film, "title": TITLES[film], "rating": stars},
            )
            for film, stars in ratings.items()
        ],
    )


def customer_id(app: Trustable, user: str) -> str:
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user)
    assert found is not None
    return found


def audience(app: Trustable) -> None:
    """Two tastes: films 1-6 go together, films 7-12 go together."""
    for n in range(12):
        user = f"fan-{n}"
        grant(app, user, PERSONALIZE)
        films = [str(f) for f in (range(1, 7) if n % 2 else range(7, 13))]
        rate(app, user, {f: 5 for f in films if (int(f) + n) % 5})


def read(server: LiveServer, key: str, customer: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/customers/{customer}/recommendations",
        params=params,
        headers={"Authorization": f"Bearer {key}"},
    )


def test_a_consenting_customer_gets_films_like_theirs_with_reasons_in_words(
    app: Trustable, live_server: LiveServer
) -> None:
    audience(app)
    grant(app, "ada", PERSONALIZE)
    rate(app, "ada", {"1": 5, "2": 4, "3": 2})
    key = make_key(app, f"read:{PERSONALIZE}")
    answer = read(live_server, key, customer_id(app, "ada"), n=3)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    with TrustableClient(live_server.url, key) as client:  # the client reads the same
        assert client.recommendations(customer_id(app, "ada"), n=3)["items"] == body["items"]
    assert body["personal"] and body["note"] is None
    items = body["items"]
    assert len(items) == 3
    assert {i["item"] for i in items} <= {"4", "5", "6"}  # her taste, and nothing she rated
    assert items[0]["title"].startswith("Film ")
    reasons = [r for i in items for r in i["reasons"]]
    assert "because you rated Film 1 5 stars" in reasons or "because you rated Film 2 4 stars" in (
        reasons
    )
    assert all("Film 3" not in r for r in reasons)  # a 2-star rating is not a like
    assert items[0]["categories"] == ["user.behavior.media_consumption"]


def test_a_customer_who_declines_gets_popular_films_said_to_be_so(
    app: Trustable, live_server: LiveServer
) -> None:
    audience(app)
    grant(app, "bob", PERSONALIZE, status=ConsentStatus.denied)
    rate(app, "bob", {"7": 5})
    key = make_key(app, f"read:{PERSONALIZE}")
    body = read(live_server, key, customer_id(app, "bob"), n=4).json()
    assert body["personal"] is False
    assert "popular with everyone" in body["note"] and "turned on" in body["note"]
    assert len(body["items"]) == 4 and all(i["reasons"] == [] for i in body["items"])
    assert all(i["categories"] == [] for i in body["items"])  # nothing of Bob's was used


def test_withdrawing_stops_personal_results_at_once_and_leaves_the_model(
    app: Trustable, live_server: LiveServer
) -> None:
    audience(app)
    grant(app, "cy", PERSONALIZE)
    rate(app, "cy", {"8": 5, "9": 5})
    key = make_key(app, f"read:{PERSONALIZE}")
    cy = customer_id(app, "cy")
    assert read(live_server, key, cy).json()["personal"]
    follower = personalization(app)
    assert cy in follower.recommender().model.contributors
    grant(app, "cy", PERSONALIZE, status=ConsentStatus.withdrawn)
    assert read(live_server, key, cy).json()["personal"] is False  # before any sync
    assert follower.sync() == 1
    assert cy not in follower.recommender().model.contributors
    grant(app, "dee", PERSONALIZE)  # a new consent joins the model at the next sync
    rate(app, "dee", {"1": 5, "4": 5})
    assert follower.sync() == 1
    assert customer_id(app, "dee") in follower.recommender().model.contributors


def test_bad_reads_get_clear_answers(app: Trustable, live_server: LiveServer) -> None:
    audience(app)
    key = make_key(app, f"read:{PERSONALIZE}")
    fan = customer_id(app, "fan-1")
    for n in (0, 10_000, "ten"):
        bad = read(live_server, key, fan, n=n)
        assert bad.status_code == 400 and "n" in bad.json()["message"]
    assert read(live_server, key, "cus_nobody").status_code == 404
    other = make_key(app, "read:analytics.reporting")
    assert read(live_server, other, fan).status_code == 403
    grant(app, "new", PERSONALIZE)  # allowed, but no history yet
    body = read(live_server, key, customer_id(app, "new")).json()
    assert body["personal"] is False and "do not know enough" in body["note"]


def test_items_the_model_does_not_know_or_no_longer_knows_are_never_served(
    app: Trustable, live_server: LiveServer
) -> None:
    audience(app)
    key = make_key(app, f"read:{PERSONALIZE}")
    follower = personalization(app)
    follower.recommender()  # trained on the audience: films 13 and 14 are unknown to it
    grant(app, "gil", PERSONALIZE)
    rate(app, "gil", {"13": 5, "1": 5})  # one film the model knows, one it does not
    body = read(live_server, key, customer_id(app, "gil"), n=4).json()
    assert body["personal"] and body["items"]
    assert all(i["item"] not in {"13", "14", "1"} for i in body["items"])
    reasons = [r for i in body["items"] for r in i["reasons"]]
    assert reasons and all(r == "because you rated Film 1 5 stars" for r in reasons)
    grant(app, "hal", PERSONALIZE)
    rate(app, "hal", {"14": 5})  # nothing the model knows: honest, not personal
    body = read(live_server, key, customer_id(app, "hal"), n=4).json()
    assert body["personal"] is False and "do not know enough" in body["note"]
    assert "14" not in {i["item"] for i in body["items"]}

    # Every fan of films 7-12 leaves: those films are no longer liked by anyone in
    # the model, so they are recommended to no one, personally or as popular.
    for n in range(0, 12, 2):
        grant(app, f"fan-{n}", PERSONALIZE, status=ConsentStatus.withdrawn)
    follower.sync()
    gone = {str(f) for f in range(7, 13)}
    grant(app, "ivy", PERSONALIZE)
    rate(app, "ivy", {"2": 5})
    for user in ("gil", "ivy", "hal"):
        body = read(live_server, key, customer_id(app, user), n=10).json()
        assert body["items"] and not gone & {i["item"] for i in body["items"]}, user


def test_an_erased_customer_leaves_the_model_with_the_erasure(
    app: Trustable, live_server: LiveServer
) -> None:
    from tests.rights.support import file

    audience(app)
    fan = customer_id(app, "fan-3")
    follower = personalization(app)
    before = follower.recommender().model.gram.copy()
    assert fan in follower.recommender().model.contributors
    erased = file(live_server.url, make_key(app, "requests"), fan, "erase")
    assert erased.json()["state"] == "done"
    assert fan not in follower.recommender().model.contributors
    assert (follower.recommender().model.gram < before).any()  # their counts are gone


def test_a_new_rating_counts_at_the_next_read_and_nothing_stays_after_withdrawal(
    app: Trustable, live_server: LiveServer
) -> None:
    audience(app)
    grant(app, "eve", PERSONALIZE)
    rate(app, "eve", {"1": 5})
    key = make_key(app, f"read:{PERSONALIZE}")
    eve = customer_id(app, "eve")
    first = {i["item"] for i in read(live_server, key, eve, n=5).json()["items"]}
    assert first
    seen = sorted(first)[0]
    rate(app, "eve", {seen: 5})  # rated now: no longer recommended, at once
    again = {i["item"] for i in read(live_server, key, eve, n=5).json()["items"]}
    assert seen not in again
    recommender = personalization(app).recommender()
    assert eve in recommender.ratings  # her opened ratings, kept for the next read
    grant(app, "eve", PERSONALIZE, status=ConsentStatus.withdrawn)
    assert read(live_server, key, eve).json()["personal"] is False
    assert eve not in recommender.ratings  # and now nothing of hers stays in memory


def test_a_read_that_races_an_erasure_serves_nothing_of_the_erased(
    app: Trustable, live_server: LiveServer
) -> None:
    """The read's check that the customer exists passed; the erasure commits before
    the rest of the read: no personal result, and no read logged under a dead key."""
    import pytest

    from tests.rights.support import file
    from trustable.personalize.service import log_recommendations, recommend
    from trustable.vault.service import KeyMissing

    audience(app)
    fan = customer_id(app, "fan-5")
    model = personalization(app).recommender()
    assert file(live_server.url, make_key(app, "requests"), fan, "erase").json()["state"] == "done"
    with app.reader() as uow:
        found = recommend(uow, app.vault, app.policy, model, customer_id=fan, n=3)
    assert found.personal is False and all(not i.reasons for i in found.items)
    assert fan not in model.ratings and fan not in model.model.contributors
    with app.uow() as uow, pytest.raises(KeyMissing):
        log_recommendations(uow, app.vault, found, actor="test", now=app.clock())
