"""The trust guard: warnings from the customer's own history, under a contract purpose."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_key
from tests.helpers import msg, send
from tests.rights.support import T0, file
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.identity.service import find_customer

SERVICE = "essential.service"


@pytest.fixture
def shop(settings: Settings) -> Any:
    app = bootstrap(settings, clock=FixedClock(T0))
    yield app
    app.close()


def order(user: str, sku: str, days_ago: int, order_id: str) -> dict[str, Any]:
    at = (T0 - timedelta(days=days_ago)).isoformat()
    return msg(
        "track",
        user,
        event="Order Completed",
        timestamp=at,
        properties={"order_id": order_id, "products": [{"sku": sku, "price": 9}]},
    )


def ask(server: LiveServer, key: str, customer: str, action: str, item: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/customers/{customer}/guard",
        json={"action": action, "item": item},
        headers={"Authorization": f"Bearer {key}"},
    )


def test_the_guard_warns_from_the_customers_own_history(
    shop: Trustable, live_server_for: Any
) -> None:
    send(shop, order("ada", "sku-1", 3, "o-1"), order("ada", "sku-2", 90, "o-2"))
    send(
        shop,
        msg("track", "ada", event="Subscription Started", properties={"plan": "gold"}),
        msg("track", "ada", event="Subscription Started", properties={"plan": "silver"}),
        msg("track", "ada", event="Subscription Cancelled", properties={"plan": "silver"}),
    )
    with shop.reader() as uow:
        ada = find_customer(uow, shop.vault, "user_id", "ada")
    assert ada is not None
    server: LiveServer = live_server_for(shop)
    key = make_key(shop, f"read:{SERVICE}")

    recent = ask(server, key, ada, "purchase", "sku-1").json()
    assert recent["checked"] and recent["purpose"] == SERVICE
    assert [w["rule"] for w in recent["warnings"]] == ["bought_recently", "already_bought"]
    assert (
        recent["warnings"][0]["message"] == "You bought this 3 days ago. Do you need another one?"
    )
    older = ask(server, key, ada, "purchase", "sku-2").json()
    assert [w["rule"] for w in older["warnings"]] == ["already_bought"]
    assert ask(server, key, ada, "purchase", "sku-9").json()["warnings"] == []
    gold = ask(server, key, ada, "subscribe", "gold").json()
    assert [w["rule"] for w in gold["warnings"]] == ["already_subscribed"]
    assert ask(server, key, ada, "subscribe", "silver").json()["warnings"] == []  # cancelled

    unknown = ask(server, key, ada, "gamble", "x")
    assert unknown.status_code == 400 and "purchase" in unknown.json()["message"]
    marketing = make_key(shop, "read:marketing.communications.email")
    assert ask(server, marketing, ada, "purchase", "sku-1").status_code == 403
    assert ask(server, key, "cus_nobody", "purchase", "sku-1").status_code == 404

    # Restricted: nothing of Ada's is read, so no warning either.
    assert file(server.url, make_key(shop, "requests"), ada, "restrict").json()["state"] == "done"
    held = ask(server, key, ada, "purchase", "sku-1").json()
    assert held["checked"] is False and held["warnings"] == []


def test_the_guard_must_not_rest_on_consent() -> None:
    from trustable.core.errors import PolicyError
    from trustable.core.settings import example_policy_path
    from trustable.policy.service import parse_policy

    text = (
        example_policy_path()
        .read_text()
        .replace(
            "guard:\n  purpose: essential.service",
            "guard:\n  purpose: personalize.content.profiled",
        )
    )
    with pytest.raises(PolicyError, match="guard.purpose: 'personalize.content.profiled' rests"):
        parse_policy(text)
