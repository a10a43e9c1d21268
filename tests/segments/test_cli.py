"""`trustable segments …` run as a user runs it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.cli.test_cli import env  # noqa: F401  (the fixture)
from tests.conftest import MOVIELENS
from trustable.cli.main import app as cli

runner = CliRunner()


def test_every_segments_command_has_help() -> None:
    for args in (["segments"], ["segments", "list"], ["segments", "show"], ["segments", "refresh"]):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, args


@pytest.mark.skipif(not MOVIELENS.exists(), reason="MovieLens 100K is not beside the project")
def test_list_show_and_refresh_after_a_movielens_import(env: dict[str, str]) -> None:  # noqa: F811
    imported = runner.invoke(
        cli, ["import", "movielens", str(MOVIELENS), "--limit", "2000"], env=env
    )
    assert imported.exit_code == 0, imported.output
    listed = runner.invoke(cli, ["segments", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "sci-fi-fans" in listed.output and "<10" in listed.output
    shown = runner.invoke(cli, ["segments", "show", "sci-fi-fans"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "personalize.content.profiled" in shown.output and '"within_days":90' in shown.output
    assert "members: <10" in shown.output
    missing = runner.invoke(cli, ["segments", "show", "sci-fi"], env=env)
    assert missing.exit_code == 1
    assert "no segment 'sci-fi' in the policy (declared: sci-fi-fans)" in missing.output
    refreshed = runner.invoke(cli, ["segments", "refresh"], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    assert "0 joined, 0 left" in refreshed.output
