"""The portal speaks plain words: the policy's labels for kinds of data, sentences a
customer reads without knowing Segment's message types, and a summary before details."""

from __future__ import annotations

import re

import pytest

from tests.helpers import grant, msg, send
from tests.rights.support import customer
from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentStatus, current_consents
from trustable.core.errors import PolicyError
from trustable.core.settings import example_policy_path
from trustable.policy.service import load_policy, parse_policy
from trustable.portal.service import holdings, what_it_was

ANALYTICS = "analytics.reporting"


def test_categories_read_as_the_policy_labels_them_or_by_their_last_part() -> None:
    policy = load_policy(example_policy_path())
    assert policy.category_label("user.contact.address.postal_code") == "Postcode"
    assert policy.category_label("user.behavior.purchase_history") == "What you bought"
    assert policy.category_label("user.financial.bank_account") == "Bank account"
    used = {c for p in policy.spec.purposes.values() for c in p.categories}
    used |= set(policy.spec.tracking_plan.values())
    assert used <= set(policy.spec.category_labels), "the shipped policy labels all it uses"
    for label in policy.spec.category_labels.values():
        assert not re.match(r"User [A-Z]", label)


def test_a_label_for_an_unknown_category_is_refused() -> None:
    text = example_policy_path().read_text().replace(
        "category_labels:\n", "category_labels:\n  user.contact.emial: Email\n", 1
    )
    with pytest.raises(PolicyError, match="category_labels.user.contact.emial"):
        parse_policy(text)


@pytest.mark.parametrize(
    ("kind", "name", "said"),
    [
        ("identify", None, "details about you"),
        ("track", "Order Completed", "an action of yours on the shop (“Order Completed”)"),
        ("track", None, "an action of yours on the shop"),
        ("page", None, "a page view"),
        ("screen", None, "a screen view in the app"),
        ("alias", None, "a link between two of your ids"),
    ],
)
def test_each_message_is_told_by_what_it_is(kind: str, name: str | None, said: str) -> None:
    assert what_it_was(kind, name) == said


def test_the_summary_says_how_much_of_what_kind_and_what_for(app: Trustable) -> None:
    ada = customer(app)
    grant(app, "ada", ANALYTICS, status=ConsentStatus.withdrawn)
    send(
        app,
        *[msg("page", "ada", properties={"path": f"/p/{i}"}) for i in range(3)],
        msg("track", "ada", event="Order Completed", properties={"total": 9.5}),
    )
    with app.reader() as uow:
        held = holdings(uow, app.vault, app.policy, ada, current_consents(uow, app.policy, ada))
    summary = held.summary()
    assert "3 page views" in summary and "4 actions on the shop" in summary  # and 3 films rated
    assert summary.startswith("We hold ") and summary.endswith(".")
    assert "email address" in summary.lower()
    uses = held.uses()
    assert "“Running your account and orders”" in uses
    assert "“Statistics about how the shop is used”" in uses and "are off for you" in uses


def test_the_erasure_certificate_reads_plainly_and_a_forged_one_fails_its_check(
    app: Trustable,
) -> None:
    from trustable.consent.receipts import sign_document
    from trustable.rights.erase import read_certificate

    document = {
        "request": "req_1",
        "customer": "cus_1",
        "requested_at": "2026-12-01T10:00:00Z",
        "erased_at": "2026-12-01T10:00:01Z",
        "completed_at": "2026-12-01T10:00:02Z",
        "erased": {"events": 12, "traits": 3, "portal_links": 0, "brand_new_table": 2},
        "data_keys_destroyed": True,
        "destinations": [{"name": "recommender", "state": "acknowledged"}],
        "complete": True,
    }
    signed = sign_document("certificate", document, app.vault)
    readable = read_certificate(signed, app.vault)
    assert readable.signature_checked and readable.keys_destroyed
    assert readable.removed == [
        ("things you did (events)", 12),
        ("details about you", 3),
        ("brand new table", 2),
    ]
    forged = {**signed, "certificate": {**document, "customer": "cus_2"}}
    assert not read_certificate(forged, app.vault).signature_checked
