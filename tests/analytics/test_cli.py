"""`trustable analytics …` run as a user runs it."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.analytics.support import crowd, populate
from tests.cli.test_cli import env  # noqa: F401  (the fixture)
from trustable.bootstrap import Trustable
from trustable.cli.main import app as cli

runner = CliRunner()


def test_every_analytics_command_has_help() -> None:
    for args in (["analytics"], ["analytics", "query"], ["analytics", "budget"]):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, args


def test_query_and_budget_from_the_command_line(
    app: Trustable,
    env: dict[str, str],  # noqa: F811
) -> None:
    populate(app, crowd("f", 12, gender="F") + crowd("m", 3, gender="M"))
    exact = runner.invoke(cli, ["analytics", "query", "--group-by", "gender"], env=env)
    assert exact.exit_code == 0, exact.output
    assert "suppressed (fewer than k)" in exact.output and "(k = 10)" in exact.output
    private = runner.invoke(cli, ["analytics", "query", "--epsilon", "1"], env=env)
    assert private.exit_code == 0, private.output
    assert "epsilon 1 spent, noise scale 1; 2 left today" in private.output
    left = runner.invoke(cli, ["analytics", "budget"], env=env)
    assert left.exit_code == 0 and "2 of 3 epsilon left" in left.output
    bad = runner.invoke(cli, ["analytics", "query", "--group-by", "shoe"], env=env)
    assert bad.exit_code == 1 and "'shoe' is not a dimension" in bad.output
    worse = runner.invoke(cli, ["analytics", "query", "--since", "soon"], env=env)
    assert worse.exit_code == 1 and "since: Input should be a valid date" in worse.output
