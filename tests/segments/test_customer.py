"""The customer's side: membership is data of theirs, in their export and on their
portal page, and it goes when they are erased."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import select

from tests.conftest import LiveServer, make_key
from tests.helpers import grant
from tests.portal.support import signed_in
from tests.rights.support import file
from tests.segments.support import PERSONALIZE, SCI_FI, customer, hits, members, rate
from trustable.bootstrap import Trustable
from trustable.segments.tables import segment_hits, segment_members


def test_the_export_holds_each_segment_with_the_events_that_put_them_there(
    shop: Trustable, server: LiveServer
) -> None:
    grant(shop, "ada", PERSONALIZE)
    rate(shop, "ada", 6)
    ada = customer(shop, "ada")
    filed = file(server.url, make_key(shop, "requests"), ada, "access").json()
    token = {"Authorization": f"Bearer {filed['token']}"}
    url = f"{server.url}/v1/requests/{filed['request_id']}/export"
    doc = orjson.loads(httpx.get(url, headers=token).content)
    (inference,) = doc["inferences"]
    assert inference["kind"] == "segment" and inference["name"] == SCI_FI
    assert inference["purposes"] == [PERSONALIZE]
    assert "science-fiction" in inference["description"]
    rated = {e["message_id"] for e in doc["events"]}
    assert len(inference["inputs"]) == 6
    assert {i["message_id"] for i in inference["inputs"]} <= rated
    page = httpx.get(url, params={"format": "html"}, headers=token).text
    assert "<h2>Groups you are in</h2>" in page
    assert "You rated five or more science-fiction films" in page


def test_the_portal_shows_the_groups_and_why_in_the_timeline(
    shop: Trustable, server: LiveServer
) -> None:
    grant(shop, "ada", PERSONALIZE)
    ada = customer(shop, "ada")
    browser = signed_in(shop, server, ada)
    try:
        assert "You are in no group at the moment." in browser.get("/portal").text
        rate(shop, "ada", 5)
        page = browser.get("/portal").text
    finally:
        browser.close()
    assert "Groups you are in" in page
    assert "You rated five or more science-fiction films" in page
    assert "Used only for: Recommendations made for you" in page
    assert "You joined a group used for “Recommendations made for you”" in page


def test_erasure_takes_membership_and_counted_events_with_it(
    shop: Trustable, server: LiveServer
) -> None:
    grant(shop, "ada", PERSONALIZE)
    grant(shop, "bo", PERSONALIZE)
    rate(shop, "ada", 5)
    rate(shop, "bo", 5)
    ada, bo = customer(shop, "ada"), customer(shop, "bo")
    erased = file(server.url, make_key(shop, "requests"), ada, "erase").json()
    assert erased["state"] == "done"
    assert erased["detail"]["erased"]["segment_hits"] == 5
    assert erased["detail"]["erased"]["segment_members"] == 1
    with shop.reader() as uow:
        for table in (segment_hits, segment_members):
            left = uow.connection.execute(select(table.c.customer_id)).scalars().all()
            assert ada not in left
    assert members(shop, SCI_FI) == {bo} and hits(shop, bo) == 5


def test_a_restriction_takes_the_customer_out_of_every_segment_at_once(
    shop: Trustable, server: LiveServer
) -> None:
    from tests.segments.support import segment_entries

    grant(shop, "ada", PERSONALIZE)
    rate(shop, "ada", 5)
    ada = customer(shop, "ada")
    assert members(shop, SCI_FI) == {ada}
    restricted = file(server.url, make_key(shop, "requests"), ada, "restrict").json()
    assert restricted["state"] == "done"
    assert members(shop, SCI_FI) == set() and hits(shop, ada) == 0
    assert segment_entries(shop)[-1]["detail"]["change"] == "left"


def test_a_corrected_trait_is_judged_again_at_once(shop: Trustable, server: LiveServer) -> None:
    from tests.helpers import msg, send
    from tests.segments.support import ANALYTICS, GROWN_UPS

    grant(shop, "ada", ANALYTICS)
    send(shop, msg("identify", "ada", traits={"age": 36}))
    ada = customer(shop, "ada")
    assert members(shop, GROWN_UPS) == {ada}
    correction = {"target": "trait", "name": "age", "value": 16}
    fixed = file(server.url, make_key(shop, "requests"), ada, "rectify", correction=correction)
    assert fixed.json()["state"] == "done", fixed.text
    assert members(shop, GROWN_UPS) == set()


def test_a_group_the_policy_no_longer_declares_is_in_the_export_until_it_goes(
    shop: Trustable, server: LiveServer
) -> None:
    from tests.segments.support import with_segments
    from trustable.policy.service import parse_policy
    from trustable.segments.reads import RETIRED

    grant(shop, "ada", PERSONALIZE)
    rate(shop, "ada", 5)
    ada = customer(shop, "ada")
    shop.policy = parse_policy(with_segments("segments: {}"))  # the running server's too
    filed = file(server.url, make_key(shop, "requests"), ada, "access").json()
    url = f"{server.url}/v1/requests/{filed['request_id']}/export"
    doc = orjson.loads(
        httpx.get(url, headers={"Authorization": f"Bearer {filed['token']}"}).content
    )
    (inference,) = doc["inferences"]
    assert inference["name"] == SCI_FI and inference["description"] == RETIRED
    assert inference["purposes"] == [] and len(inference["inputs"]) == 5
