"""The scopes a key may hold are one list (`access.service.SCOPES` and
`read:<purpose>`): the README's table and `trustable keys create --help` follow it
word for word, so neither can name a scope that does not exist or miss one that does."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from trustable.access.service import FIXED_SCOPES, READ_SCOPE, SCOPES, scope_meanings
from trustable.cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<scope>[^`]+)` \| (?P<meaning>.+) \|$")


def readme_scopes() -> dict[str, str]:
    """The scope table of the README's "API keys" section, as scope → meaning."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## API keys\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("| scope | for |\n| --- | --- |\n", 1)[1].split("\n\n", 1)[0]
    rows = [ROW.match(line) for line in table.splitlines()]
    assert all(rows), table
    return {m["scope"]: m["meaning"] for m in rows if m}


def test_the_readme_lists_exactly_the_scopes_there_are_with_their_meanings() -> None:
    assert readme_scopes() == scope_meanings()
    assert list(scope_meanings()) == [*FIXED_SCOPES, READ_SCOPE]


def test_the_public_and_the_secret_write_keys_say_so() -> None:
    assert SCOPES["collect"].startswith("PUBLIC") and "anyone can read it" in SCOPES["collect"]
    assert SCOPES["collect:server"].startswith("SECRET")
    assert "never in a page or app" in SCOPES["collect:server"]


def test_keys_create_help_lists_every_scope_with_what_it_is_for() -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    for scope, meaning in scope_meanings().items():
        assert any(line.startswith(f"{scope} {meaning}") for line in lines), scope
    assert "--expires" in result.output
