"""Undoing a join of two customers' histories, by the service, the command line and
the console: the absorbed history becomes the customer it was, with everything that
came from it (even what arrived after the join), and the ledger says so on both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import LiveServer
from tests.helpers import cli_env, grant, msg, send
from tests.portal.support import csrf_of
from tests.users.support import Console, console_browsers
from trustable.bootstrap import Trustable
from trustable.cli.main import app as cli
from trustable.consent.service import ConsentStatus, current_consents
from trustable.core.errors import NotFound
from trustable.core.settings import Settings
from trustable.events.merge import AlreadyUndone, split_histories
from trustable.events.service import customer_events, customer_traits
from trustable.identity.merges import MergeRecord, list_merges
from trustable.identity.service import find_customer, linked_identifiers
from trustable.ledger import service as ledger
from trustable.ledger.sequencer import flush
from trustable.ledger.verify import verify

PERSONALIZE = "personalize.content.profiled"
UNA, DOS = "user-una", "user-dos"
UNA_DEVICE = "device-of-una"
UNA_MAIL, DOS_MAIL = "una@example.org", "dos@example.org"
MERGE_ID = re.compile(r"mrg_[0-9a-z]{20}")
runner = CliRunner()


@dataclass(frozen=True)
class Joined:
    una: str  # the absorbed history's customer id, before the join
    dos: str  # the survivor
    merge: MergeRecord


def whose(app: Trustable, kind: str, value: str) -> str | None:
    with app.reader() as uow:
        return find_customer(uow, app.vault, kind, value)


def orders(app: Trustable, customer_id: str) -> set[str]:
    """The order ids among a customer's events, opened with that customer's key."""
    with app.reader() as uow:
        return {
            str(e.fields["properties.order_id"])
            for e in customer_events(uow, app.vault, customer_id)
            if "properties.order_id" in e.fields
        }


def choice(app: Trustable, customer_id: str, purpose: str) -> ConsentStatus | None:
    with app.reader() as uow:
        found = {c.purpose: c.status for c in current_consents(uow, app.policy, customer_id)}
    return found.get(purpose)


def kinds_of_entries(app: Trustable, customer_id: str) -> list[str]:
    flush(app)
    with app.reader() as uow:
        return [e.kind for e in ledger.customer_entries(uow, customer_id)]


def said(result: Result) -> str:
    """What a command printed, with the console's line wrapping undone."""
    return " ".join(result.output.split())


def undo(app: Trustable, merge_id: str, actor: str = "usr_officer") -> None:
    with app.uow() as uow:
        split_histories(uow, app.vault, merge_id, actor=actor, now=app.clock())
        uow.commit()


@pytest.fixture
def joined(app: Trustable) -> Joined:
    """Una and Dos, each identified with traits, an order and a choice of their own,
    joined by the shop's backend (a trusted alias); then an order under Una's device
    after the join, which the joined customer received."""
    grant(app, UNA, PERSONALIZE)
    grant(app, DOS, PERSONALIZE, status=ConsentStatus.denied)
    send(
        app,
        msg("identify", UNA, anonymousId=UNA_DEVICE,
            traits={"email": UNA_MAIL, "firstName": "Una"}),
        msg("track", UNA, event="Order Completed", properties={"order_id": "una-1"}),
    )  # fmt: skip
    send(
        app,
        msg("identify", DOS, traits={"lastName": "Dos", "plan": "gold"}),
        msg("track", DOS, event="Order Completed", properties={"order_id": "dos-1"}),
    )
    una, dos = whose(app, "user_id", UNA), whose(app, "user_id", DOS)
    assert una is not None and dos is not None and una != dos
    send(app, msg("alias", DOS, previousId=UNA), trusted=True)
    assert whose(app, "user_id", UNA) == dos  # one customer now
    send(
        app,
        msg("track", None, anonymousId=UNA_DEVICE, event="Order Completed",
            properties={"order_id": "una-2"}),
    )  # fmt: skip
    assert orders(app, dos) == {"una-1", "una-2", "dos-1"}
    with app.reader() as uow:
        (merge,) = list_merges(uow, customer_id=dos)
    assert (merge.winner, merge.loser, merge.undone_at) == (dos, una, None)
    return Joined(una, dos, merge)


# -- the service ----------------------------------------------------------------------


def test_undoing_a_join_restores_the_absorbed_customer_under_its_own_id(
    app: Trustable, joined: Joined
) -> None:
    undo(app, joined.merge.merge_id)
    assert whose(app, "user_id", UNA) == joined.una
    assert whose(app, "anonymous_id", UNA_DEVICE) == joined.una
    assert whose(app, "email", UNA_MAIL) == joined.una  # still a contact: the backend sent it
    assert whose(app, "user_id", DOS) == joined.dos


def test_each_gets_back_exactly_its_own_events_traits_and_identifiers(
    app: Trustable, joined: Joined
) -> None:
    undo(app, joined.merge.merge_id)
    # Opened with each one's own key: sealed under the other's, they would not open.
    assert orders(app, joined.una) == {"una-1", "una-2"}  # una-2 came after the join
    assert orders(app, joined.dos) == {"dos-1"}
    with app.reader() as uow:
        una_traits = customer_traits(uow, app.vault, joined.una)
        dos_traits = customer_traits(uow, app.vault, joined.dos)
        una_ids = {(i.kind, i.value) for i in linked_identifiers(uow, app.vault, joined.una)}
        dos_ids = {(i.kind, i.value) for i in linked_identifiers(uow, app.vault, joined.dos)}
    assert una_traits == {"email": UNA_MAIL, "firstName": "Una"}
    assert dos_traits == {"lastName": "Dos", "plan": "gold"}
    assert una_ids == {("user_id", UNA), ("anonymous_id", UNA_DEVICE), ("email", UNA_MAIL)}
    assert dos_ids == {("user_id", DOS)}


def test_each_gets_back_its_own_choice(app: Trustable, joined: Joined) -> None:
    # Joined, the more protective choice stood for both histories.
    assert choice(app, joined.dos, PERSONALIZE) is ConsentStatus.denied
    undo(app, joined.merge.merge_id)
    assert choice(app, joined.una, PERSONALIZE) is ConsentStatus.granted
    assert choice(app, joined.dos, PERSONALIZE) is ConsentStatus.denied


def test_what_arrives_after_the_undo_goes_to_each_history(app: Trustable, joined: Joined) -> None:
    undo(app, joined.merge.merge_id)
    send(
        app,
        msg("track", None, anonymousId=UNA_DEVICE, event="Order Completed",
            properties={"order_id": "una-3"}),
        msg("track", DOS, event="Order Completed", properties={"order_id": "dos-2"}),
    )  # fmt: skip
    assert orders(app, joined.una) == {"una-1", "una-2", "una-3"}
    assert orders(app, joined.dos) == {"dos-1", "dos-2"}


def test_both_ledgers_show_the_undo_and_the_log_still_verifies(
    app: Trustable, joined: Joined
) -> None:
    flush(app)
    with app.uow() as uow:
        ledger.sign_head(uow, app.vault, now=app.clock())  # a head over the joined state
        uow.commit()
    una_before = kinds_of_entries(app, joined.una)
    assert una_before == []  # while joined, her entries are found under the survivor
    undo(app, joined.merge.merge_id, actor="usr_officer")
    una_kinds, dos_kinds = kinds_of_entries(app, joined.una), kinds_of_entries(app, joined.dos)
    assert una_kinds.count("unmerge") == 1 and dos_kinds.count("unmerge") == 1
    # Her collections (identify, order, the order after the join) are hers again.
    assert una_kinds.count("collect") >= 3 and "consent" in una_kinds
    with app.reader() as uow:
        (theirs,) = [e for e in ledger.customer_entries(uow, joined.una) if e.kind == "unmerge"]
        (his,) = [e for e in ledger.customer_entries(uow, joined.dos) if e.kind == "unmerge"]
    for entry in (theirs, his):
        body = entry.content()
        assert body["actor"] == "usr_officer"
        assert joined.merge.merge_id in entry.body.decode()
        # Pseudonymous: no customer id, user id nor address in the hashed body.
        for secret in (joined.una, joined.dos, UNA, DOS, UNA_MAIL):
            assert secret not in entry.body.decode()
    with app.uow() as uow:
        ledger.sign_head(uow, app.vault, now=app.clock())
        uow.commit()
    with app.reader() as uow:
        verdict = verify(uow, app.vault.public_key())
    assert verdict.ok, verdict.problem
    assert verdict.heads_checked == 2


def test_a_join_is_undone_once(app: Trustable, joined: Joined) -> None:
    undo(app, joined.merge.merge_id, actor="usr_first")
    with app.uow() as uow, pytest.raises(AlreadyUndone) as raised:
        split_histories(uow, app.vault, joined.merge.merge_id, actor="usr_second",
                        now=app.clock())  # fmt: skip
    assert raised.value.status == 409 and raised.value.code == "merge_undone"
    with app.reader() as uow:
        (merge,) = list_merges(uow, customer_id=joined.una)
    assert merge.undone_by == "usr_first" and merge.undone_at is not None
    assert kinds_of_entries(app, joined.una).count("unmerge") == 1
    with app.uow() as uow, pytest.raises(NotFound):
        split_histories(uow, app.vault, "mrg_" + "0" * 20, actor="usr_first", now=app.clock())


def test_an_older_join_is_undone_after_the_survivor_was_joined_again(
    app: Trustable, joined: Joined
) -> None:
    """Una into Dos, then Dos into Tres: undoing the first takes Una back from Tres
    and leaves Dos's own history where it was joined."""
    send(app, msg("track", "user-tres", event="Order Completed", properties={"order_id": "tres-1"}))
    tres = whose(app, "user_id", "user-tres")
    assert tres is not None
    send(app, msg("alias", "user-tres", previousId=DOS), trusted=True)
    assert whose(app, "user_id", UNA) == tres
    undo(app, joined.merge.merge_id)
    assert whose(app, "user_id", UNA) == joined.una
    assert whose(app, "user_id", DOS) == tres
    assert orders(app, joined.una) == {"una-1", "una-2"}
    assert orders(app, tres) == {"dos-1", "tres-1"}


# -- the command line -----------------------------------------------------------------


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return cli_env(settings)


def test_merges_list_shows_the_join_by_ids_only(
    app: Trustable, joined: Joined, env: dict[str, str]
) -> None:
    listed = runner.invoke(cli, ["merges", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert MERGE_ID.findall(listed.output) == [joined.merge.merge_id]
    assert joined.una in listed.output and joined.dos in listed.output
    for value in (UNA, DOS, UNA_MAIL):
        assert value not in listed.output
    mine = runner.invoke(cli, ["merges", "list", "--customer", joined.una], env=env)
    assert joined.merge.merge_id in mine.output
    other = runner.invoke(cli, ["merges", "list", "--customer", "cus_nobody"], env=env)
    assert other.exit_code == 0 and said(other) == "no joins"


def test_merges_undo_splits_the_join_once(
    app: Trustable, joined: Joined, env: dict[str, str]
) -> None:
    undone = runner.invoke(cli, ["merges", "undo", joined.merge.merge_id], env=env)
    assert undone.exit_code == 0, undone.output
    assert said(undone) == (
        f"undone: {joined.una} is a customer of its own again, taking back 3 identifiers, "
        f"3 events and 2 traits from {joined.dos}"  # identify, order, the order after
    )
    assert whose(app, "user_id", UNA) == joined.una
    assert orders(app, joined.una) == {"una-1", "una-2"}
    with app.reader() as uow:
        (merge,) = list_merges(uow, customer_id=joined.una)
    assert merge.undone_by == "cli"
    listed = runner.invoke(cli, ["merges", "list"], env=env)
    assert "by cli" in said(listed)
    again = runner.invoke(cli, ["merges", "undo", joined.merge.merge_id], env=env)
    assert again.exit_code == 1 and "undone already" in said(again)
    unknown = runner.invoke(cli, ["merges", "undo", "mrg_unknown"], env=env)
    assert unknown.exit_code == 1 and "no such merge" in said(unknown)


# -- the console ----------------------------------------------------------------------


@pytest.fixture
def console(app: Trustable, live_server: LiveServer) -> Iterator[Console]:
    with console_browsers(app, live_server.url) as sign_in:
        yield sign_in


def test_a_privacy_officer_undoes_a_join_from_the_console(
    app: Trustable, joined: Joined, console: Console
) -> None:
    officer = console("privacy_officer")
    page = officer.get("/admin/merges")
    assert page.status_code == 200 and "Joined histories" in page.text
    assert f'action="/admin/merges/{joined.merge.merge_id}/undo"' in page.text
    forged = officer.post(f"/admin/merges/{joined.merge.merge_id}/undo", data={"csrf": "x"})
    assert forged.status_code == 403 and "expired" in forged.text
    assert whose(app, "user_id", UNA) == joined.dos  # nothing happened
    done = officer.post(
        f"/admin/merges/{joined.merge.merge_id}/undo", data={"csrf": csrf_of(page.text)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/merges"
    assert whose(app, "user_id", UNA) == joined.una
    with app.reader() as uow:
        (merge,) = list_merges(uow, customer_id=joined.una)
    by = merge.undone_by
    assert by is not None and by.startswith("usr_")  # the officer, by user id
    after = officer.get("/admin/merges").text
    assert "undone" in after and f"/admin/merges/{joined.merge.merge_id}/undo" not in after
    twice = officer.post(
        f"/admin/merges/{joined.merge.merge_id}/undo", data={"csrf": csrf_of(page.text)}
    )
    assert twice.status_code == 409 and "undone already" in twice.text


def test_support_sees_joins_but_may_not_undo_and_the_analyst_sees_nothing(
    app: Trustable, joined: Joined, console: Console
) -> None:
    support = console("support")
    page = support.get("/admin/merges")
    assert page.status_code == 200 and joined.merge.merge_id in page.text
    assert "/undo" not in page.text  # no button to press
    refused = support.post(
        f"/admin/merges/{joined.merge.merge_id}/undo", data={"csrf": csrf_of(page.text)}
    )
    elsewhere = support.post(
        "/admin/requests/rq_none/refuse", data={"reason": "no", "csrf": csrf_of(page.text)}
    )
    assert refused.status_code == elsewhere.status_code == 403
    assert "your role (support) may not do this" in refused.text
    assert "your role (support) may not do this" in elsewhere.text
    assert whose(app, "user_id", UNA) == joined.dos
    analyst = console("analyst")
    hidden = analyst.get("/admin/merges")
    assert hidden.status_code == analyst.get("/admin/requests").status_code == 403
    assert joined.merge.merge_id not in hidden.text
    assert 'href="/admin/merges"' not in analyst.get("/admin/dashboard").text  # not in the menu
    admin = console("admin")
    follows = admin.get("/admin/merges")
    assert follows.status_code == 200 and joined.merge.merge_id in follows.text
    assert (
        admin.post(
            f"/admin/merges/{joined.merge.merge_id}/undo", data={"csrf": csrf_of(follows.text)}
        ).status_code
        == 403
    )


def test_the_page_shows_ids_never_values_and_escapes_what_it_echoes(
    app: Trustable, joined: Joined, console: Console
) -> None:
    officer = console("privacy_officer")
    page = officer.get("/admin/merges").text
    assert joined.una in page and joined.dos in page
    for value in (UNA, DOS, UNA_DEVICE, UNA_MAIL, "Una", "gold", "una-1"):
        assert value not in page
    filtered = officer.get("/admin/merges", params={"customer": joined.una}).text
    assert joined.merge.merge_id in filtered
    elsewhere = officer.get("/admin/merges", params={"customer": "cus_nobody"}).text
    assert joined.merge.merge_id not in elsewhere and "No joins." in elsewhere
    hostile = officer.get("/admin/merges", params={"customer": '"><script>x()</script>'})
    assert hostile.status_code == 200
    assert "<script>x()" not in hostile.text
    assert "&#34;&gt;&lt;script&gt;x()&lt;/script&gt;" in hostile.text
