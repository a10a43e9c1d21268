"""Aggregates over real HTTP: the `analytics` scope, clear refusals, the budget."""

from __future__ import annotations

import httpx

from tests.analytics.support import crowd, populate
from tests.conftest import LiveServer, make_key
from trustable.bootstrap import Trustable


def test_only_keys_with_the_analytics_scope_ask(app: Trustable, live_server: LiveServer) -> None:
    populate(app, crowd("f", 12, gender="F"))
    body = {"measure": "count", "group_by": "gender"}
    url = f"{live_server.url}/v1/aggregates"
    assert httpx.post(url, json=body).status_code == 401
    reader = make_key(app, "read:analytics.reporting", name="reader")
    refused = httpx.post(url, json=body, headers={"authorization": f"Bearer {reader}"})
    assert refused.status_code == 403
    analyst = make_key(app, "analytics", name="analyst")
    answered = httpx.post(url, json=body, headers={"authorization": f"Bearer {analyst}"})
    assert answered.status_code == 200, answered.text
    found = answered.json()
    assert found["k"] == 10 and found["private"] is False and found["released"] == 1
    women = next(c for c in found["cells"] if c["groups"] == {"gender": "F"})
    assert women["value"] == 12 and women["suppressed"] is None
    men = next(c for c in found["cells"] if c["groups"] == {"gender": "M"})
    assert men["value"] is None and men["suppressed"] == "fewer_than_k"


def test_refusals_are_clear_and_the_budget_is_the_keys(
    app: Trustable, live_server: LiveServer
) -> None:
    populate(app, crowd("f", 12, gender="F"))
    auth = {"authorization": f"Bearer {make_key(app, 'analytics', name='analyst')}"}
    url = f"{live_server.url}/v1/aggregates"
    bad = httpx.post(url, json={"measure": "count", "group_by": "shoe_size"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["code"] == "unknown_dimension"
    extra = httpx.post(url, json={"measure": "count", "customer_id": "x"}, headers=auth)
    assert extra.status_code == 400 and "customer_id: Extra inputs" in extra.json()["message"]
    few = httpx.post(url, json={"measure": "count", "event": "Movie Rated"}, headers=auth)
    assert few.status_code == 422 and few.json()["code"] == "query_refused"

    private = {"measure": "count", "private": True, "epsilon": 1}
    for left in (2, 1, 0):
        spent = httpx.post(url, json=private, headers=auth)
        assert spent.status_code == 200 and spent.json()["budget_remaining"] == left
    exhausted = httpx.post(url, json=private, headers=auth)
    assert exhausted.status_code == 429
    assert exhausted.json()["code"] == "budget_exhausted"
    assert "only 0 of today's 3 is left; the budget resets at" in exhausted.json()["message"]
    budget = httpx.get(f"{live_server.url}/v1/aggregates/budget", headers=auth).json()
    assert budget["limit"] == 3 and budget["spent"] == 3 and budget["remaining"] == 0
    assert budget["resets_at"].startswith(budget["period"]) is False  # tomorrow
