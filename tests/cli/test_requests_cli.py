"""`trustable requests`: file for a known customer, list the queue, refuse, resume."""

from __future__ import annotations

from dataclasses import replace

from typer.testing import CliRunner

from tests.cli.test_cli import env  # noqa: F401 - the fixture
from tests.rights.support import customer
from trustable.bootstrap import bootstrap
from trustable.cli.main import app
from trustable.core.settings import Settings

runner = CliRunner()


def test_the_queue_from_the_command_line(settings: Settings, env: dict[str, str]) -> None:  # noqa: F811
    shop = bootstrap(replace(settings))
    try:
        ada = customer(shop)
    finally:
        shop.close()
    filed = runner.invoke(
        app, ["requests", "file", "--customer", ada, "--kind", "restrict"], env=env
    )
    assert filed.exit_code == 0, filed.output
    assert "restrict done" in filed.output
    listed = runner.invoke(app, ["requests", "list", "--state", "done"], env=env)
    assert listed.exit_code == 0 and "restrict" in listed.output
    assert "ada" not in listed.output.lower()
    request_id = filed.output.split(":")[0].strip()
    late = runner.invoke(app, ["requests", "refuse", request_id, "--reason", "x"], env=env)
    assert late.exit_code == 1 and "already done" in late.output
    unknown = runner.invoke(
        app, ["requests", "file", "--customer", "cus_x", "--kind", "erase"], env=env
    )
    assert unknown.exit_code == 1 and "no such customer" in unknown.output
    bad = runner.invoke(app, ["requests", "list", "--state", "lost"], env=env)
    assert bad.exit_code == 1
    resumed = runner.invoke(app, ["requests", "resume"], env=env)
    assert resumed.exit_code == 0 and "0 request(s)" in resumed.output
