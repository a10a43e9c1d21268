"""`trustable keys create / list / revoke`, run as an operator runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from typer.testing import CliRunner

from tests.cli.test_cli import env  # noqa: F401 - the fixture
from tests.conftest import LiveServer
from trustable.bootstrap import Trustable
from trustable.cli.main import app

runner = CliRunner()


def keys(env: dict[str, str], *args: str) -> tuple[int, str, str]:  # noqa: F811
    """Exit code, standard output and standard error; wide, so tables keep one line a row."""
    result = runner.invoke(app, ["keys", *args], env={**env, "COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def key_id_of(plaintext: str) -> str:
    return plaintext.strip()[3:].split(".")[0]


COLUMNS = ("id", "name", "scopes", "created", "last used", "expires", "revoked")


def row_of(listing: str, key_id: str) -> list[str]:
    """One key's cells, cut where the header's columns begin."""
    lines = listing.splitlines()
    (header,) = [line for line in lines if line.split()[:2] == ["id", "name"]]
    starts = [header.index(f" {column}") + 1 for column in COLUMNS]
    (line,) = [line for line in lines if key_id in line]
    ends = [*starts[1:], len(line)]
    return [line[a:b].strip() for a, b in zip(starts, ends, strict=True)]


def test_create_takes_the_name_as_an_argument_and_an_optional_expiry(
    env: dict[str, str],  # noqa: F811
) -> None:
    code, out, err = keys(env, "create", "web shop", "--scope", "collect")
    assert code == 0, err
    assert out.strip().startswith("tk_key_")
    assert "public" in err and "not shown again" in err
    code, out, err = keys(
        env, "create", "shop backend", "--scope", "collect:server", "--expires", "90d"
    )
    assert code == 0, err
    expected = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%d")
    assert f"expires {expected}" in err and "keep this key secret" in err
    backend = key_id_of(out)
    code, out, err = keys(env, "create", "bi", "--scope", "analytics", "--expires", "2099-06-30")
    assert code == 0 and "expires 2099-06-30 00:00 UTC" in err
    # The old spelling still works, for scripts written before.
    code, out, _ = keys(env, "create", "--name", "legacy", "--scope", "portal")
    assert code == 0 and out.startswith("tk_key_")

    code, listing, _ = keys(env, "list")
    assert code == 0
    assert row_of(listing, backend)[1:3] == ["shop backend", "collect:server"]
    assert expected in row_of(listing, backend)[5]


def test_create_refuses_a_past_or_unreadable_expiry_and_a_missing_name_clearly(
    env: dict[str, str],  # noqa: F811
) -> None:
    for expires, says in (
        ("2020-01-01", "a key's expiry must be in the future"),
        ("tomorrow", "give a number of days (90d) or a date (2027-06-30)"),
        ("0d", "at least 1 day away"),
    ):
        code, out, err = keys(env, "create", "shop", "--scope", "collect", "--expires", expires)
        assert code == 1 and says in err and out == "", (expires, err)
    code, _, err = keys(env, "create", "--scope", "collect")
    assert code == 1 and "give the key one name" in err
    code, _, err = keys(env, "create", "shop")
    assert code == 1 and "at least one --scope" in err
    code, listing, _ = keys(env, "list")
    assert code == 0 and "no API keys yet" in listing  # nothing half-made


def test_list_shows_every_key_and_never_a_secret_and_revoke_is_idempotent(
    env: dict[str, str],  # noqa: F811
) -> None:
    _, web, _ = keys(env, "create", "[bold]web[/] shop", "--scope", "collect")
    _, reader, _ = keys(env, "create", "recommender", "--scope", "read:essential.service")
    web_id, reader_id = key_id_of(web), key_id_of(reader)
    code, listing, _ = keys(env, "list")
    assert code == 0
    for column in COLUMNS:
        assert column in listing
    assert web.strip().split(".")[1] not in listing and reader.strip().split(".")[1] not in listing
    web_row = row_of(listing, web_id)
    assert web_row[1] == "[bold]web[/] shop"  # a name is shown as typed, never as markup
    assert web_row[4] == "never" and web_row[5] == "" and web_row[6] == ""

    code, out, _ = keys(env, "revoke", web_id)
    assert code == 0 and f"revoked key {web_id}" in out and "refused from now on" in out
    code, again, _ = keys(env, "revoke", web_id)
    assert code == 0 and "was already revoked on" in again
    code, listing, _ = keys(env, "list")
    assert row_of(listing, web_id)[6] != "" and row_of(listing, reader_id)[6] == ""

    code, _, err = keys(env, "revoke", "key_" + "0" * 20)
    assert code == 1 and "no key with the id 'key_00000000000000000000'" in err


def test_a_key_revoked_from_the_command_line_is_refused_by_the_running_server(
    app: Trustable,
    live_server: LiveServer,
    env: dict[str, str],  # noqa: F811
) -> None:
    _, key, _ = keys(env, "create", "web shop", "--scope", "collect")
    key = key.strip()

    def collect() -> int:
        body = {"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "m"}]}
        return httpx.post(f"{live_server.url}/v1/batch", json=body, auth=(key, "")).status_code

    assert collect() == 200
    assert keys(env, "revoke", key_id_of(key))[0] == 0
    assert collect() == 401
