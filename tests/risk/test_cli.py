"""`trustable risk …` run as a user runs it."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from tests.cli.test_cli import env  # noqa: F401  (the fixture)
from tests.conftest import MOVIELENS
from tests.risk.support import ANALYTICS, PERSONALIZE, person
from trustable.bootstrap import Trustable
from trustable.cli.main import app as cli

runner = CliRunner()
USERS = str(MOVIELENS / "ml-100k.user")


def test_every_risk_command_has_help() -> None:
    for args in (["risk"], ["risk", "measure"], ["risk", "generalize"], ["risk", "export"]):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, args


def test_movielens_measure_generalize_and_export(tmp_path: Path) -> None:
    measured = runner.invoke(cli, ["risk", "measure", "--movielens", USERS])
    assert measured.exit_code == 0, measured.output
    assert "943 people from MovieLens 100K's user file" in measured.output
    assert "917 of 943 people unique (97.2%)" in measured.output
    general = runner.invoke(cli, ["risk", "generalize", "--k", "5", "--movielens", USERS])
    assert general.exit_code == 0, general.output
    assert "bands of 20" in general.output and "0 records suppressed" in general.output
    some = runner.invoke(
        cli, ["risk", "generalize", "--k", "5", "--movielens", USERS, "--max-suppressed", "1%"]
    )
    assert "6 records suppressed (at most 9 allowed)" in some.output, some.output
    out = tmp_path / "ml.csv"
    exported = runner.invoke(
        cli, ["risk", "export", "--k", "5", "--out", str(out), "--movielens", USERS]
    )
    assert exported.exit_code == 0, exported.output
    assert "wrote 943 rows" in exported.output and "re-measured from the file: k = " in (
        exported.output
    )
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["zip", "age", "gender"] and len(rows) == 944


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    one = runner.invoke(cli, ["risk", "generalize", "--k", "1", "--movielens", USERS])
    assert one.exit_code == 1 and "k must be at least 2" in one.output
    big = runner.invoke(cli, ["risk", "generalize", "--k", "944", "--movielens", USERS])
    assert big.exit_code == 1 and "only 943 records" in big.output
    share = runner.invoke(
        cli, ["risk", "generalize", "--k", "5", "--movielens", USERS, "--max-suppressed", "lots"]
    )
    assert share.exit_code == 1 and "'lots' is not a share" in share.output
    missing = runner.invoke(cli, ["risk", "measure", "--movielens", str(tmp_path / "x.user")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    out = tmp_path / "never.csv"
    refused = runner.invoke(
        cli, ["risk", "export", "--k", "944", "--out", str(out), "--movielens", USERS]
    )
    assert refused.exit_code == 1 and not out.exists()


def test_the_store_measured_and_exported_for_analytics_only(
    app: Trustable,
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    for n in range(4):
        person(app, f"a{n}", ANALYTICS, zip="10115", age=30 + n % 2, gender="F")
    person(app, "p1", PERSONALIZE, zip="99999", age=70, gender="M")
    measured = runner.invoke(cli, ["risk", "measure"], env=env)
    assert measured.exit_code == 0, measured.output
    assert "5 customers from the store" in measured.output
    assert "1 of 5 people unique" in measured.output
    out = tmp_path / "store.csv"
    exported = runner.invoke(cli, ["risk", "export", "--k", "2", "--out", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert "only customers who permit analytics.reporting are exported: 1 who do not" in (
        exported.output
    )
    assert "wrote 4 rows" in exported.output and "ledger entry" in exported.output
    assert "99999" not in out.read_text()
