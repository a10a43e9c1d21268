"""The console's API keys page: admins see every key as `trustable keys list` shows it,
make one (shown once) and revoke one; every other role is refused as on other admin
pages, and forms without their CSRF token do nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer, make_key
from tests.portal.support import csrf_of
from tests.users.support import Console, console_browsers
from trustable.access.service import SCOPES, list_keys
from trustable.bootstrap import Trustable

NEW_KEY = re.compile(r'<code id="new-secret">(tk_key_[0-9a-z]{20}\.[A-Za-z0-9_-]{43})</code>')


@pytest.fixture
def console(app: Trustable, live_server: LiveServer) -> Iterator[Console]:
    with console_browsers(app, live_server.url) as sign_in:
        yield sign_in


def collect(server: LiveServer, key: str) -> int:
    body = {"batch": [{"type": "track", "userId": "u-1", "event": "Signed In", "messageId": "m"}]}
    return httpx.post(f"{server.url}/v1/batch", json=body, auth=(key, "")).status_code


def test_an_admin_makes_a_key_sees_it_once_and_it_works(
    app: Trustable, live_server: LiveServer, console: Console
) -> None:
    admin = console("admin")
    page = admin.get("/admin/keys")
    assert page.status_code == 200 and "No API keys yet." in page.text
    assert 'href="/admin/keys"' in page.text  # in the admin's menu
    for scope, meaning in SCOPES.items():
        assert f'value="{scope}"' in page.text and meaning.replace("'", "&#39;") in page.text
    assert 'value="read:essential.service"' in page.text  # a read scope per purpose

    made = admin.post(
        "/admin/keys",
        data={
            "name": "shop backend",
            "scopes": ["collect:server", "consent:write"],
            "expires": "90d",
            "csrf": csrf_of(page.text),
        },
    )
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    found = NEW_KEY.search(made.text)
    assert found is not None and "it is not shown again" in made.text
    assert "This key is <strong>secret</strong>" in made.text
    secret = found.group(1)
    assert collect(live_server, secret) == 200

    again = admin.get("/admin/keys").text
    assert secret not in again and secret.split(".")[1] not in again  # once, never again
    with app.reader() as uow:
        (key,) = list_keys(uow)
    assert key.name == "shop backend" and key.scopes == ("collect:server", "consent:write")
    assert key.expires_at is not None and key.last_used_at is not None
    row = again.split(f'data-key="{key.key_id}" data-state="live"')[1].split("</tr>")[0]
    assert "shop backend" in row and "<code>collect:server</code>" in row
    # It was used: its last use is shown, and its expiry is a date, not "never".
    assert 'data-label="Last used">never' not in row and 'data-label="Expires">never' not in row


def test_an_admin_revokes_a_key_and_it_is_refused_at_once(
    app: Trustable, live_server: LiveServer, console: Console
) -> None:
    write_key = make_key(app, "collect", name="web shop")
    key_id = write_key[3:].split(".")[0]
    assert collect(live_server, write_key) == 200
    admin = console("admin")
    page = admin.get("/admin/keys").text
    assert f'action="/admin/keys/{key_id}/revoke"' in page

    forged = admin.post(f"/admin/keys/{key_id}/revoke", data={})
    assert forged.status_code == 403 and collect(live_server, write_key) == 200
    elsewhere = admin.post(
        f"/admin/keys/{key_id}/revoke",
        data={"csrf": csrf_of(page)},
        headers={"Origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403 and collect(live_server, write_key) == 200

    done = admin.post(
        f"/admin/keys/{key_id}/revoke", data={"csrf": csrf_of(page)}, follow_redirects=True
    )
    assert done.status_code == 200 and f'data-key="{key_id}" data-state="revoked"' in done.text
    assert f'action="/admin/keys/{key_id}/revoke"' not in done.text  # no button for it now
    assert collect(live_server, write_key) == 401
    unknown = admin.post(
        "/admin/keys/key_00000000000000000000/revoke", data={"csrf": csrf_of(page)}
    )
    assert unknown.status_code == 404 and "no key with the id" in unknown.text


@pytest.mark.parametrize("role", ["privacy_officer", "analyst", "support"])
def test_other_roles_are_refused_as_on_other_admin_pages(
    app: Trustable, live_server: LiveServer, console: Console, role: str
) -> None:
    write_key = make_key(app, "collect", name="web shop")
    key_id = write_key[3:].split(".")[0]
    someone = console(role)
    home = someone.get("/admin", follow_redirects=True)
    assert 'href="/admin/keys"' not in home.text  # not in their menu
    page = someone.get("/admin/keys")
    assert page.status_code == 403 and "may not do this" in page.text
    assert key_id not in page.text
    csrf = csrf_of(home.text)  # their own, valid token: the role is what refuses them
    assert someone.post(f"/admin/keys/{key_id}/revoke", data={"csrf": csrf}).status_code == 403
    made = someone.post("/admin/keys", data={"name": "x", "scopes": ["admin"], "csrf": csrf})
    assert made.status_code == 403 and "tk_key_" not in made.text
    assert collect(live_server, write_key) == 200
    with app.reader() as uow:
        assert [k.name for k in list_keys(uow)] == ["web shop"]
    signed_out = httpx.get(f"{live_server.url}/admin/keys")
    assert signed_out.status_code == 401


def test_names_are_escaped_and_bad_input_is_refused_clearly(
    app: Trustable, console: Console
) -> None:
    make_key(app, "collect", name='<script>alert("x")</script>')
    admin = console("admin")
    page = admin.get("/admin/keys").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    csrf = csrf_of(page)
    for data, says, field in (
        (
            {"name": "late", "scopes": ["collect"], "expires": "2020-01-01"},
            "must be in the future",
            "key-expires",
        ),
        (
            {"name": "odd", "scopes": ["collect"], "expires": "soon"},
            "a number of days (90d)",
            "key-expires",
        ),
        ({"name": "none", "expires": ""}, "at least one scope", "key-scopes"),
        ({"name": "bad", "scopes": ["root"]}, "unknown scope &#39;root&#39;", "key-scopes"),
    ):
        refused = admin.post("/admin/keys", data={**data, "csrf": csrf})
        assert refused.status_code == 400 and says in refused.text, (data, refused.text)
        # Said beside its field, on the form as it was filled in.
        assert f'<p class="field-error" id="{field}-error">' in refused.text, data
        assert f'value="{data["name"]}"' in refused.text
        if data.get("scopes") == ["collect"]:
            assert 'value="collect" checked' in refused.text
    with app.reader() as uow:
        assert len(list_keys(uow)) == 1  # nothing was made
