"""Reading segments over HTTP: for a named purpose the customer permits, logged; the
list of segments with counts only."""

from __future__ import annotations

import re

import httpx

from tests.conftest import LiveServer, make_key
from tests.helpers import grant, msg, send
from tests.segments.support import ANALYTICS, GROWN_UPS, PERSONALIZE, SCI_FI, customer, rate
from tests.users.support import console_browsers
from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentStatus
from trustable.ledger.sequencer import flush
from trustable.ledger.service import entries_of_kind
from trustable.portal.service import describe


def get(server: LiveServer, key: str, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"Authorization": f"Bearer {key}"})


def fan(shop: Trustable, user: str = "ada") -> str:
    """A customer in both segments: five sci-fi ratings, 36 years old."""
    grant(shop, user, PERSONALIZE, ANALYTICS)
    send(shop, msg("identify", user, traits={"age": 36}))
    rate(shop, user, 5)
    return customer(shop, user)


def test_a_purpose_reads_only_its_own_segments_and_the_read_is_logged(
    shop: Trustable, server: LiveServer
) -> None:
    ada = fan(shop)
    key = make_key(shop, f"read:{PERSONALIZE}", f"read:{ANALYTICS}")
    answer = get(server, key, f"/v1/customers/{ada}/segments?purpose={PERSONALIZE}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["purpose"] == PERSONALIZE
    assert [(s["name"], s["purposes"]) for s in body["segments"]] == [(SCI_FI, [PERSONALIZE])]
    assert "science-fiction" in body["segments"][0]["description"]
    stats = get(server, key, f"/v1/customers/{ada}/segments?purpose={ANALYTICS}").json()
    assert [s["name"] for s in stats["segments"]] == [GROWN_UPS]
    flush(shop)
    with shop.reader() as uow:
        reads = [e.content() for e in entries_of_kind(uow, "access")]
    assert [r["detail"] for r in reads] == [
        {
            "purpose": PERSONALIZE,
            "categories": ["user.behavior", "user.behavior.media_consumption"],
            "segments": 1,
        },
        {"purpose": ANALYTICS, "categories": ["user.demographic.age_range"], "segments": 1},
    ]
    assert all(r["subject"] == shop.vault.pseudonym(ada) for r in reads)
    with shop.reader() as uow:
        told = [describe(e, shop.policy, {}).sentence for e in entries_of_kind(uow, "access")]
    assert told[0] == "Trustable looked up the groups you are in for “Recommendations made for you”"


def test_reads_are_refused_without_the_purposes_scope_even_for_admin(
    shop: Trustable, server: LiveServer
) -> None:
    ada = fan(shop)
    path = f"/v1/customers/{ada}/segments?purpose={PERSONALIZE}"
    admin = get(server, make_key(shop, "admin"), path)
    assert admin.status_code == 403 and admin.json()["code"] == "purpose_not_allowed"
    other = get(server, make_key(shop, f"read:{ANALYTICS}"), path)
    assert other.status_code == 403
    assert get(server, "tk_wrong", path).status_code == 401
    key = make_key(shop, f"read:{PERSONALIZE}")
    unknown = get(server, key, f"/v1/customers/{ada}/segments?purpose=spying")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_purpose"
    nobody = get(server, key, f"/v1/customers/cus_nobody/segments?purpose={PERSONALIZE}")
    assert nobody.status_code == 404 and nobody.json()["code"] == "unknown_customer"
    with shop.reader() as uow:
        assert list(entries_of_kind(uow, "access")) == []  # nothing was read


def test_without_consent_nothing_comes_back_even_for_a_member(
    shop: Trustable, server: LiveServer
) -> None:
    from trustable.consent.service import restrict

    ada = fan(shop)
    key = make_key(shop, f"read:{PERSONALIZE}")
    path = f"/v1/customers/{ada}/segments?purpose={PERSONALIZE}"
    with shop.uow() as uow:  # still a member until the next refresh, but restricted now
        restrict(uow, ada, request_id="req_test", now=shop.clock())
        uow.commit()
    assert get(server, key, path).json()["segments"] == []
    bo = fan(shop, "bo")
    grant(shop, "bo", PERSONALIZE, status=ConsentStatus.withdrawn)
    assert (
        get(server, key, f"/v1/customers/{bo}/segments?purpose={PERSONALIZE}").json()["segments"]
        == []
    )


def test_the_list_shows_counts_and_hides_small_ones(shop: Trustable, server: LiveServer) -> None:
    for n in range(10):
        grant(shop, f"u{n}", ANALYTICS)
    send(shop, *(msg("identify", f"u{n}", traits={"age": 30}) for n in range(10)))
    fan(shop)
    answer = get(server, make_key(shop, "admin"), "/v1/segments")
    assert answer.status_code == 200, answer.text
    shown = {s["name"]: s for s in answer.json()["segments"]}
    assert shown[GROWN_UPS]["members"] == "11" and shown[SCI_FI]["members"] == "<10"
    assert shown[SCI_FI]["rule"]["at_least"] == 5
    assert shown[GROWN_UPS]["purposes"] == [ANALYTICS]
    refused = get(server, make_key(shop, f"read:{PERSONALIZE}"), "/v1/segments")
    assert refused.status_code == 403
    # The console's policy page shows the same counts, to the staff who may see policy.
    with console_browsers(shop, server.url) as console:
        page = console("privacy_officer").get("/admin/policy").text
    row = page[page.index(f"<strong>{GROWN_UPS}</strong>") :].split("</tr>")[0]
    assert '<td data-label="Members">11</td>' in row
    row = page[page.index(f"<strong>{SCI_FI}</strong>") :].split("</tr>")[0]
    assert '<td data-label="Members">&lt;10</td>' in row
    # No member is named (as a word: a random token in the page may hold "ada").
    assert not re.search(r"\bada\b", page.lower().replace("ada@", ""))
