"""The privacy team's console over HTTP: sign-in, roles, the requests queue, the
policy view and a support read that the ledger records."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer, make_key
from tests.portal.support import csrf_of
from tests.rights.support import customer
from tests.users.support import PASSWORD, Console, console_browsers, make_user
from trustable.bootstrap import Trustable
from trustable.ledger.sequencer import flush
from trustable.ledger.service import customer_entries
from trustable.users.service import disable_user


@pytest.fixture
def console(app: Trustable, live_server: LiveServer) -> Iterator[Console]:
    """Sign a console user of the given role in (made on the spot), as a browser."""
    with console_browsers(app, live_server.url) as sign_in:
        yield sign_in


def test_sign_in_refuses_wrong_passwords_alike_and_the_cookie_is_safe(
    app: Trustable, live_server: LiveServer
) -> None:
    make_user(app, "olivia", "privacy_officer")
    with httpx.Client(base_url=live_server.url) as browser:
        wrong = browser.post("/admin/signin", data={"username": "olivia", "password": "nope"})
        nobody = browser.post("/admin/signin", data={"username": "nobody", "password": "nope"})
        assert wrong.status_code == nobody.status_code == 401
        assert "wrong username or password" in wrong.text and "wrong username or password" in (
            nobody.text
        )
        good = browser.post("/admin/signin", data={"username": "olivia", "password": PASSWORD})
        assert good.status_code == 303
        cookie = good.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Path=/admin" in cookie and "SameSite=lax" in cookie
        page = browser.get("/admin/requests")
        assert page.status_code == 200 and "Customers' requests" in page.text
        out = browser.post("/admin/logout", data={"csrf": csrf_of(page.text)})
        assert "You are signed out" in out.text
        assert browser.get("/admin/requests").status_code == 401


def browser_from(server: LiveServer, address: str) -> httpx.Client:
    """A browser whose connections come from `address` (any 127.x is this machine)."""
    return httpx.Client(
        base_url=server.url, transport=httpx.HTTPTransport(local_address=address), timeout=30
    )


def answer(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """All of an answer that could tell one username from another (its Date aside)."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "date"]
    return response.status_code, response.content, headers


def test_a_stranger_hammering_a_username_does_not_keep_its_owner_out(
    app: Trustable, live_server: LiveServer
) -> None:
    make_user(app, "olivia", "privacy_officer")
    wrong = {"username": "olivia", "password": "guess guess guess"}
    with browser_from(live_server, "127.0.0.2") as stranger:
        tries = [stranger.post("/admin/signin", data=wrong) for _ in range(12)]
        assert [t.status_code for t in tries] == [401] * 4 + [429] * 8
        assert "wait 15 minutes" in tries[-1].text
        right = stranger.post("/admin/signin", data={**wrong, "password": PASSWORD})
        assert right.status_code == 429  # blocked from there, even with the password
    with browser_from(live_server, "127.0.0.3") as owner:
        landed = owner.post("/admin/signin", data={**wrong, "password": PASSWORD})
        assert landed.status_code == 303
        assert owner.get("/admin/requests").status_code == 200


def test_real_and_unknown_usernames_get_the_same_answers_byte_for_byte(
    app: Trustable, live_server: LiveServer
) -> None:
    make_user(app, "olivia", "privacy_officer")
    answers = {}
    for name, address in (("olivia", "127.0.0.4"), ("nobody", "127.0.0.5")):
        with browser_from(live_server, address) as browser:
            form = {"username": name, "password": "guess guess guess"}
            answers[name] = [answer(browser.post("/admin/signin", data=form)) for _ in range(11)]
    assert answers["olivia"] == answers["nobody"]
    assert answers["olivia"][-1][0] == 429


def test_roles_decide_what_each_user_sees(app: Trustable, console: Console) -> None:
    analyst = console("analyst")
    assert analyst.get("/admin/requests").status_code == 403
    assert analyst.get("/admin/customer").status_code == 403
    support = console("support")
    assert support.get("/admin/policy").status_code == 200
    assert "Recommendations made for you" in support.get("/admin/policy").text
    admin = console("admin")
    assert admin.get("/admin/customer").status_code == 403  # admins run accounts, not customers


def test_a_privacy_officer_refuses_a_request_with_a_reason(
    app: Trustable, live_server: LiveServer, console: Console
) -> None:
    ada = customer(app)
    filed = httpx.post(
        f"{live_server.url}/v1/requests/by-email",
        json={"email": "ada@example.org", "kind": "access"},
    ).json()
    officer = console("privacy_officer")
    page = officer.get("/admin/requests", params={"state": "received"}).text
    assert filed["request_id"] in page
    empty = officer.post(
        f"/admin/requests/{filed['request_id']}/refuse",
        data={"reason": "  ", "csrf": csrf_of(page)},
    )
    assert empty.status_code == 400 and "Customers' requests" in empty.text
    assert f'id="reason-{filed["request_id"]}-error"' in empty.text  # beside that request
    done = officer.post(
        f"/admin/requests/{filed['request_id']}/refuse",
        data={"reason": "we could not verify it was you", "csrf": csrf_of(page)},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "we could not verify it was you" in done.text
    forged = officer.post(f"/admin/requests/{filed['request_id']}/process", data={})
    assert forged.status_code == 403
    support = console("support")
    support_page = support.get("/admin/requests").text
    assert "Refuse" not in support_page  # support sees the queue, does not act on it
    assert ada not in support_page or "Refuse" not in support_page


def test_a_support_read_shows_only_the_stated_purpose_and_is_logged(
    app: Trustable, console: Console
) -> None:
    ada = customer(app)
    support = console("support")
    form = support.get("/admin/customer").text
    read = support.post(
        "/admin/customer",
        data={"customer_id": ada, "purpose": "essential.service", "csrf": csrf_of(form)},
    )
    assert read.status_code == 200 and "Ada Lovelace" in read.text
    assert "<dt>age</dt>" not in read.text  # the age serves personalization, not the service
    assert "user.demographic.age_range (purpose does not use it" in read.text
    flush(app)
    with app.reader() as uow:
        entries = [e.content() for e in customer_entries(uow, ada) if e.kind == "access"]
    assert entries and entries[-1]["actor"].startswith("usr_")
    assert entries[-1]["detail"]["purpose"] == "essential.service"
    # A wrong id or purpose comes back on the form, beside its field, as typed.
    unknown = support.post(
        "/admin/customer",
        data={"customer_id": "cus_nobody", "purpose": "essential.service", "csrf": csrf_of(form)},
    )
    assert unknown.status_code == 404 and 'id="customer-id-error"' in unknown.text
    assert 'value="cus_nobody"' in unknown.text
    assert 'value="essential.service" selected' in unknown.text
    odd = support.post(
        "/admin/customer",
        data={"customer_id": ada, "purpose": "selling.everything", "csrf": csrf_of(form)},
    )
    assert odd.status_code == 400 and 'id="purpose-error"' in odd.text
    assert f'value="{ada}"' in odd.text


def test_a_disabled_users_session_ends(app: Trustable, console: Console) -> None:
    support = console("support")
    assert support.get("/admin/policy").status_code == 200
    admin_key = make_key(app, "admin")
    assert admin_key
    with app.uow() as uow:
        disable_user(uow, app.vault, "support-0", now=app.clock(), actor="test")
        uow.commit()
    assert support.get("/admin/policy").status_code == 401


def test_the_dashboard_counts_and_shows_no_one(app: Trustable, console: Console) -> None:
    ada = customer(app)
    analyst = console("analyst")
    board = analyst.get("/admin/dashboard", params={"days": 7})
    assert board.status_code == 200
    assert '<dd id="fig-customers">1</dd>' in board.text
    assert board.text.count("<svg") == 6 and 'role="img"' in board.text
    assert ada not in board.text and "Ada" not in board.text and "ada@" not in board.text
    assert analyst.get("/admin/dashboard", params={"days": 0}).status_code == 400
    assert console("support").get("/admin/dashboard").status_code == 403
