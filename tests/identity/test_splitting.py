"""Undoing a join: the absorbed history becomes a customer of its own again, with
everything that came from it, even what arrived after the join."""

from __future__ import annotations

import re

import orjson
import pytest
from typer.testing import CliRunner

from tests.conftest import LiveServer
from tests.helpers import grant, msg, send
from tests.portal.support import csrf_of
from tests.users.support import console_browsers
from trustable.bootstrap import Trustable
from trustable.cli.main import app as cli
from trustable.consent.service import ConsentStatus, current_consents
from trustable.core.settings import Settings
from trustable.events.merge import AlreadyUndone, split_histories
from trustable.events.service import customer_events, customer_traits
from trustable.identity.service import find_customer, linked_identifiers, list_merges
from trustable.ledger import service as ledger

PERSONALIZE = "personalize.content.profiled"


def whose(app: Trustable, kind: str, value: str) -> str | None:
    with app.reader() as uow:
        return find_customer(uow, app.vault, kind, value)


@pytest.fixture
def joined(app: Trustable) -> tuple[str, str]:
    """Two signed-up users joined by the backend's alias, then an order under the
    absorbed one's device after the join."""
    grant(app, "ann", PERSONALIZE)
    send(app, msg("identify", "ann", anonymousId="dev-ann",
                  traits={"email": "ann@example.org", "zip": "10115"}),
         msg("track", "ann", event="Order Completed", properties={"order_id": "a-1"}))  # fmt: skip
    send(app, msg("identify", "bob", traits={"email": "bob@example.org"}),
         msg("track", "bob", event="Order Completed", properties={"order_id": "b-1"}))  # fmt: skip
    ann, bob = whose(app, "user_id", "ann"), whose(app, "user_id", "bob")
    assert ann is not None and bob is not None
    send(app, msg("alias", "bob", previousId="ann"))
    assert whose(app, "user_id", "ann") == bob
    send(app, msg("track", None, anonymousId="dev-ann", event="Order Completed",
                  properties={"order_id": "a-2"}))  # fmt: skip
    return ann, bob


def orders(app: Trustable, customer_id: str) -> set[str]:
    with app.reader() as uow:
        return {
            str(e.fields["properties.order_id"])
            for e in customer_events(uow, app.vault, customer_id)
            if "properties.order_id" in e.fields
        }


def test_undoing_a_join_gives_the_absorbed_history_back_whole(
    app: Trustable, joined: tuple[str, str]
) -> None:
    ann, bob = joined
    assert orders(app, bob) == {"a-1", "a-2", "b-1"}
    with app.reader() as uow:
        (merge,) = list_merges(uow, customer_id=bob)
    assert (merge.winner, merge.loser, merge.undone_at) == (bob, ann, None)

    with app.uow() as uow:
        split = split_histories(uow, app.vault, merge.merge_id, actor="usr_officer",
                                now=app.clock())  # fmt: skip
        uow.commit()
    assert (split.holder, split.restored) == (bob, ann)

    assert whose(app, "user_id", "ann") == ann and whose(app, "user_id", "bob") == bob
    assert whose(app, "anonymous_id", "dev-ann") == ann
    assert whose(app, "email", "ann@example.org") == ann
    # Her orders, the one that came after the join too, open under her own key again.
    assert orders(app, ann) == {"a-1", "a-2"} and orders(app, bob) == {"b-1"}
    with app.reader() as uow:
        # Her address is hers again as an identifier; as a trait, the one both held
        # when joined was his (the survivor's value won), so only hers alone returns.
        assert customer_traits(uow, app.vault, ann) == {"zip": "10115"}
        assert customer_traits(uow, app.vault, bob) == {"email": "bob@example.org"}
        assert {i.value for i in linked_identifiers(uow, app.vault, bob)} == {
            "bob",
            "bob@example.org",
        }
        # Each keeps their own choices: she granted personalization, he never did.
        mine = {c.purpose: c.status for c in current_consents(uow, app.policy, ann)}
        his = {c.purpose: c.status for c in current_consents(uow, app.policy, bob)}
        entries = {
            who: [e for e in ledger.latest_customer_entries(uow, who, before=None, limit=100)]
            for who in (ann, bob)
        }
        verdict = ledger.verify(uow, app.vault.public_key())
        (undone,) = list_merges(uow, customer_id=bob)
    assert mine[PERSONALIZE] is ConsentStatus.granted
    assert his.get(PERSONALIZE) is not ConsentStatus.granted
    # Both see the step; her collections are in her timeline again, none in his.
    for who in (ann, bob):
        kinds = [e.kind for e in entries[who]]
        assert kinds.count("unmerge") == 1
    assert sum(e.kind == "collect" for e in entries[ann]) == 3  # identify, 2 orders
    assert sum(e.kind == "collect" for e in entries[bob]) == 3  # identify, order, alias
    body = next(e.body for e in entries[ann] if e.kind == "unmerge")
    assert b"ann" not in body and b"@" not in body
    assert orjson.loads(body)["actor"] == "usr_officer"
    assert verdict.ok, verdict.problem
    assert undone.undone_at is not None and undone.undone_by == "usr_officer"

    with app.uow() as uow, pytest.raises(AlreadyUndone):
        split_histories(uow, app.vault, merge.merge_id, actor="usr_officer", now=app.clock())


def test_what_arrives_after_the_split_goes_to_each_history(
    app: Trustable, joined: tuple[str, str]
) -> None:
    ann, bob = joined
    with app.reader() as uow:
        (merge,) = list_merges(uow, customer_id=ann)
    with app.uow() as uow:
        split_histories(uow, app.vault, merge.merge_id, actor="cli", now=app.clock())
        uow.commit()
    send(app, msg("track", "ann", event="Order Completed", properties={"order_id": "a-3"}),
         msg("track", "bob", event="Order Completed", properties={"order_id": "b-2"}))  # fmt: skip
    assert orders(app, ann) == {"a-1", "a-2", "a-3"}
    assert orders(app, bob) == {"b-1", "b-2"}


def test_the_command_line_lists_a_join_and_undoes_it(
    app: Trustable, settings: Settings, joined: tuple[str, str]
) -> None:
    ann, bob = joined
    env = {
        "TRUSTABLE_HOME": str(settings.home),
        "TRUSTABLE_DATABASE_URL": settings.database_url,
        "TRUSTABLE_KEYSTORE_URL": settings.keystore_url,
        "TRUSTABLE_MASTER_KEY": settings.master_key or "",
        "TRUSTABLE_POLICY": str(settings.policy_path),
    }
    runner = CliRunner()
    listed = runner.invoke(cli, ["merges", "list", "--customer", bob], env=env)
    assert listed.exit_code == 0, listed.output
    merge_id = re.search(r"mrg_[0-9a-z]{20}", listed.output)
    assert merge_id is not None and ann in listed.output and "@" not in listed.output, listed.output
    undone = runner.invoke(cli, ["merges", "undo", merge_id.group(0)], env=env)
    assert undone.exit_code == 0, undone.output
    assert f"{ann} is a customer of its own again" in undone.output
    assert whose(app, "user_id", "ann") == ann
    again = runner.invoke(cli, ["merges", "undo", merge_id.group(0)], env=env)
    assert again.exit_code == 1 and "already" in again.output
    unknown = runner.invoke(cli, ["merges", "undo", "mrg_nope"], env=env)
    assert unknown.exit_code == 1 and "no such merge" in unknown.output


def test_a_privacy_officer_undoes_a_join_from_the_console_and_nobody_else_may(
    app: Trustable, live_server: LiveServer, joined: tuple[str, str]
) -> None:
    ann, bob = joined
    with console_browsers(app, live_server.url) as sign_in:
        support = sign_in("support")
        seen = support.get("/admin/merges")
        assert seen.status_code == 200 and ann in seen.text and bob in seen.text
        assert "ann@example.org" not in seen.text
        assert "/undo" not in seen.text  # support sees the joins, not the button
        found = re.search(r"mrg_[0-9a-z]{20}", seen.text)
        assert found is not None
        merge = found.group(0)
        refused = support.post(f"/admin/merges/{merge}/undo", data={"csrf": csrf_of(seen.text)})
        assert refused.status_code == 403
        assert whose(app, "user_id", "ann") == bob

        officer = sign_in("privacy_officer")
        page = officer.get("/admin/merges")
        forged = officer.post(f"/admin/merges/{merge}/undo", data={"csrf": "forged"})
        assert forged.status_code in (400, 403) and whose(app, "user_id", "ann") == bob
        done = officer.post(f"/admin/merges/{merge}/undo", data={"csrf": csrf_of(page.text)})
        assert done.status_code == 303, done.text
        assert whose(app, "user_id", "ann") == ann
        assert "undone" in officer.get("/admin/merges").text
