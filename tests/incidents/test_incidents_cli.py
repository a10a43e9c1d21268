"""`trustable incidents`: a breach from record to sent notices and a submitted report."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from tests.cli.test_cli import env  # noqa: F401 - the fixture
from tests.incidents.support import shoppers
from trustable.bootstrap import bootstrap
from trustable.cli.main import app
from trustable.core.settings import Settings

runner = CliRunner()


def test_a_breach_from_the_command_line(settings: Settings, env: dict[str, str]) -> None:  # noqa: F811
    shop = bootstrap(replace(settings))
    try:
        shoppers(shop)
    finally:
        shop.close()
    now = datetime.now(UTC)
    recorded = runner.invoke(
        app,
        [
            "incidents",
            "record",
            "--title",
            "Snapshot on a public bucket",
            "--start",
            (now - timedelta(days=1)).isoformat(),
            "--end",
            now.isoformat(),
            "--store",
            "data_store",
            "--category",
            "user.contact.email",
            "--exposed",
            "both",
            "--measures",
            "We removed the copy.",
        ],
        env=env,
    )
    assert recorded.exit_code == 0, recorded.output
    assert "affected: 2 customers, 2 records; risk high" in recorded.output
    incident_id = recorded.output.split(":")[0].strip()
    assert incident_id.startswith("inc_")
    listed = runner.invoke(app, ["incidents", "list"], env=env)
    assert incident_id in listed.output and "left" in listed.output
    counts = runner.invoke(app, ["incidents", "affected", incident_id], env=env)
    assert "user.contact.email" in counts.output and "2 customers" in counts.output
    draft = runner.invoke(app, ["incidents", "notice", incident_id], env=env)
    assert "Email" in draft.output and "/portal" in draft.output
    early = runner.invoke(app, ["incidents", "send", incident_id], env=env)
    assert early.exit_code == 1 and "must approve" in early.output
    assert runner.invoke(app, ["incidents", "approve", incident_id], env=env).exit_code == 0
    sent = runner.invoke(app, ["incidents", "send", incident_id], env=env)
    assert sent.exit_code == 0, sent.output
    assert "2 notices sent, 0 customers have no email" in sent.output
    assert len(list((settings.home / "mail").glob("*.eml"))) == 2  # the pickup folder
    again = runner.invoke(app, ["incidents", "send", incident_id], env=env)
    assert again.exit_code == 1 and "never sent twice" in again.output
    report = runner.invoke(app, ["incidents", "report", incident_id], env=env)
    assert "Contact point: Demo Shop" in report.output and "about 2" in report.output
    submitted = runner.invoke(app, ["incidents", "submit", incident_id], env=env)
    assert submitted.exit_code == 0 and "report submitted" in submitted.output
    shown = runner.invoke(app, ["incidents", "show", incident_id], env=env)
    for step in ("recorded", "affected", "notices_approved", "notices_sent", "report_submitted"):
        assert step in shown.output
    assert "ada" not in shown.output.lower()


def test_bad_times_and_stores_are_refused_from_the_command_line(
    settings: Settings,
    env: dict[str, str],  # noqa: F811
) -> None:
    base = ["incidents", "record", "--title", "t", "--category", "user.contact.email"]
    bad_time = runner.invoke(
        app,
        [*base, "--start", "yesterday", "--end", "2026-11-20T10:00Z"]
        + ["--store", "data_store", "--exposed", "both"],
        env=env,
    )
    assert bad_time.exit_code == 1 and "--start must be an ISO 8601 time" in bad_time.output
    bad_store = runner.invoke(
        app,
        [*base, "--start", "2026-11-19T10:00Z", "--end", "2026-11-20T10:00Z"]
        + ["--store", "tape", "--exposed", "both"],
        env=env,
    )
    assert bad_store.exit_code == 1 and "unknown store 'tape'" in bad_store.output


def test_every_incidents_command_has_help() -> None:
    commands = ("record", "list", "show", "affected", "notice", "approve", "send", "report")
    for command in (*commands, "submit"):
        result = runner.invoke(app, ["incidents", command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, (command, result.output)
