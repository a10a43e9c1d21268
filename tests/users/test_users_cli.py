"""`trustable users`: accounts made and changed from the command line, as an operator
would, with passwords typed at a hidden prompt or piped in."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.cli.test_cli import env  # noqa: F401 - the fixture
from trustable.cli.main import app

runner = CliRunner()
PASSWORD = "correct horse battery staple"


def create(env: dict[str, str], username: str, role: str, typed: str) -> str:  # noqa: F811
    result = runner.invoke(
        app, ["users", "create", "--username", username, "--role", role], input=typed, env=env
    )
    return f"{result.exit_code}:{result.output}"


def test_create_asks_for_the_password_twice_without_showing_it(env: dict[str, str]) -> None:  # noqa: F811
    made = create(env, "Ada", "admin", f"{PASSWORD}\n{PASSWORD}\n")
    assert made.startswith("0:"), made
    assert "created ada (admin), id usr_" in made
    assert PASSWORD not in made  # the prompt hides what is typed
    listed = runner.invoke(app, ["users", "list"], env=env)
    assert listed.exit_code == 0 and "ada" in listed.output and "never" in listed.output


def test_a_password_can_come_from_standard_input(env: dict[str, str]) -> None:  # noqa: F811
    result = runner.invoke(
        app,
        ["users", "create", "--username", "ci", "--role", "analyst", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "created ci (analyst)" in result.output


def test_clear_errors_for_a_bad_role_a_weak_password_and_a_taken_name(
    env: dict[str, str],  # noqa: F811
) -> None:
    bad_role = create(env, "ada", "root", "")
    assert bad_role.startswith("1:") and "unknown role 'root'" in bad_role
    assert "Password" not in bad_role  # refused before a password was asked for
    weak = create(env, "ada", "admin", "short\nshort\n")
    assert weak.startswith("1:") and "at least 12 characters" in weak
    assert "short" not in weak.split("Repeat for confirmation:")[-1]
    assert create(env, "ada", "admin", f"{PASSWORD}\n{PASSWORD}\n").startswith("0:")
    taken = create(env, "ADA", "analyst", f"{PASSWORD}\n{PASSWORD}\n")
    assert taken.startswith("1:") and "that username is taken" in taken
    bad_name = create(env, "ada lovelace", "analyst", "")
    assert bad_name.startswith("1:") and "a username is 2 to 64 characters" in bad_name


def test_set_password_set_role_and_disable(env: dict[str, str]) -> None:  # noqa: F811
    assert create(env, "root", "admin", f"{PASSWORD}\n{PASSWORD}\n").startswith("0:")
    assert create(env, "ada", "analyst", f"{PASSWORD}\n{PASSWORD}\n").startswith("0:")
    new = "a different long passphrase"
    changed = runner.invoke(app, ["users", "set-password", "ada"], input=f"{new}\n{new}\n", env=env)
    assert changed.exit_code == 0 and "new password set for ada" in changed.output
    unknown = runner.invoke(app, ["users", "set-password", "grace"], input="", env=env)
    assert unknown.exit_code == 1 and "no such console user" in unknown.output
    role = runner.invoke(app, ["users", "set-role", "ada", "support"], env=env)
    assert role.exit_code == 0 and "ada is now support" in role.output
    disabled = runner.invoke(app, ["users", "disable", "ada"], env=env)
    assert disabled.exit_code == 0 and "ada is disabled" in disabled.output
    last = runner.invoke(app, ["users", "disable", "root"], env=env)
    assert last.exit_code == 1 and "last enabled admin" in last.output
    listed = runner.invoke(app, ["users", "list"], env=env)
    assert "disabled" in listed.output and "support" in listed.output
