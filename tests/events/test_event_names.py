"""An event's name is data too: kept under its own category where the policy gives one."""

from __future__ import annotations

from tests.helpers import msg, send
from trustable.bootstrap import Trustable
from trustable.events.service import customer_events
from trustable.identity.service import find_customer


def test_an_order_keeps_its_name_where_purchase_history_is_kept(app: Trustable) -> None:
    # No consent given: only the contract's purposes apply, which use purchase history
    # (so an order's name) but not behaviour at large (so not a product view's name).
    send(
        app,
        msg("track", "ada", event="Order Completed", properties={"order_id": "o-1"}),
        msg("track", "ada", event="Product Viewed", properties={"product_id": "p-1"}),
    )
    with app.reader() as uow:
        ada = find_customer(uow, app.vault, "user_id", "ada")
        assert ada is not None
        stored = [e.fields for e in customer_events(uow, app.vault, ada)]
    assert {"event": "Order Completed", "properties.order_id": "o-1"} in stored
    assert all(f.get("event") != "Product Viewed" for f in stored)
    assert app.policy.name_category("Order Completed") == "user.behavior.purchase_history"
    assert app.policy.name_category("Anything Else") == "user.behavior"
