"""`trustable incidents …`: record a breach, see who it affects, notify, report.

A thin shell over `incidents`: it shows ids, counts, categories and deadlines, never
a customer's values. Notices go out through the configured mail (SMTP, or the pickup
folder) when the command ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

if TYPE_CHECKING:
    from trustable.bootstrap import Trustable

incidents_app = typer.Typer(
    help="Breaches: record, affected customers, notices, the regulator's report.",
    no_args_is_help=True,
)

ACTOR = "cli"


def parse_moment(name: str, text: str | None) -> datetime | None:
    """An ISO 8601 moment with its zone (`2026-11-20T10:00Z`); a clear error if not."""
    from trustable.core.errors import InvalidInput

    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time such as 2026-11-20T10:00:00Z", code="invalid_time"
        ) from None


def portal_url(trustable: Trustable) -> str:
    s = trustable.settings
    return (s.public_url or f"http://{s.host}:{s.port}").rstrip("/") + "/portal"


@incidents_app.command("record")
def record(
    title: Annotated[str, typer.Option(help="What happened, in a line (no personal data).")],
    start: Annotated[str, typer.Option(help="When the exposure began (ISO 8601, with zone).")],
    end: Annotated[str, typer.Option(help="When it ended (at the latest, the discovery).")],
    store: Annotated[str, typer.Option(help="data_store, key_store, destination or backup")],
    category: Annotated[list[str], typer.Option(help="A data category concerned; repeat.")],
    exposed: Annotated[str, typer.Option(help="ciphertext, keys, both or cleartext")],
    destination: Annotated[str | None, typer.Option(help="The destination, if one.")] = None,
    discovered: Annotated[str | None, typer.Option(help="When it was discovered (now).")] = None,
    measures: Annotated[str, typer.Option(help="What was done about it.")] = "",
) -> None:
    """Record an incident and compute at once who it affects."""
    from trustable.cli.main import console, guarded, running
    from trustable.incidents.service import record_incident

    with running() as trustable, trustable.uow() as uow:
        now = trustable.clock()
        found = record_incident(
            uow,
            trustable.vault,
            trustable.policy,
            title=title,
            discovered_at=guarded(lambda: parse_moment("--discovered", discovered)) or now,
            window_start=guarded(lambda: parse_moment("--start", start)) or now,
            window_end=guarded(lambda: parse_moment("--end", end)) or now,
            store=store,
            categories=category,
            exposed=exposed,
            destination=destination,
            measures=measures,
            actor=ACTOR,
            now=now,
        )
        uow.commit()
    console.print(f"{found.incident_id}: recorded", highlight=False)
    console.print(
        f"affected: {found.people} customers, {found.records} records; risk {found.risk.value}; "
        f"report due {found.report_due:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )


@incidents_app.command("list")
def incidents_list() -> None:
    """Incidents, latest discovery first, with the 72-hour clock of each."""
    from trustable.cli.main import console, running
    from trustable.incidents.report import clock
    from trustable.incidents.service import list_incidents

    with running() as trustable, trustable.reader() as uow:
        now = trustable.clock()
        found = list_incidents(uow)
    table = Table("incident", "discovered", "store", "risk", "people", "status", "report")
    table.columns[0].no_wrap = True
    for i in found:
        due = clock(i, now)
        table.add_row(
            i.incident_id,
            f"{i.discovered_at:%Y-%m-%d %H:%M}",
            i.where,
            i.risk.value,
            str(i.people),
            i.status.value,
            f"[red]{due.words()}[/red]" if due.overdue else due.words(),
        )
    console.print(table if found else "no incidents")


@incidents_app.command("show")
def show(incident_id: str) -> None:
    """One incident: what, when, the affected counts, and its timeline."""
    from rich.markup import escape

    from trustable.cli.main import console, running
    from trustable.incidents.report import clock
    from trustable.incidents.service import get_incident, notice_counts, timeline

    with running() as trustable, trustable.reader() as uow:
        now = trustable.clock()
        found = get_incident(uow, incident_id)
        steps = timeline(uow, incident_id)
        notices = notice_counts(uow, incident_id)
    console.print(f"[bold]{found.incident_id}[/bold] {escape(found.title)}", highlight=False)
    console.print(
        f"{found.where}, {found.exposed.value} exposed from {found.window_start:%Y-%m-%d %H:%M} "
        f"to {found.window_end:%Y-%m-%d %H:%M} UTC; discovered "
        f"{found.discovered_at:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )
    console.print(
        f"risk {found.risk.value} · {found.people} customers · {found.records} records · "
        f"status {found.status.value} · notices: {notices.sent} sent, {notices.no_email} "
        f"without email, {notices.pending} pending · report: {clock(found, now).words()}",
        highlight=False,
    )
    table = Table("when", "step", "by", "ledger entry")
    table.columns[1].no_wrap = True
    for step in steps:
        table.add_row(f"{step.at:%Y-%m-%d %H:%M:%S}", step.step, step.actor, str(step.ledger_index))
    console.print(table)


@incidents_app.command("affected")
def affected(
    incident_id: str,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Compute again from the stores (before approval).")
    ] = False,
    ids: Annotated[bool, typer.Option("--ids", help="Also list the customers' ids.")] = False,
) -> None:
    """How many customers each category concerns (and, with --ids, who)."""
    from trustable.cli.main import console, running
    from trustable.incidents import service
    from trustable.incidents.affected import affected_customers

    with running() as trustable, trustable.uow() as uow:
        found = service.get_incident(uow, incident_id)
        if recompute:
            found = service.recompute(
                uow, trustable.vault, trustable.policy, found, actor=ACTOR, now=trustable.clock()
            )
        customers = affected_customers(uow, incident_id) if ids else []
        uow.commit()
    table = Table("category", "customers")
    table.columns[0].no_wrap = True
    for category, n in found.by_category.items():
        table.add_row(category, str(n))
    console.print(table)
    console.print(f"{found.people} customers, {found.records} records", highlight=False)
    for c in customers:
        console.print(
            f"{c.customer_id}  {' '.join(c.categories)}  {c.records}  {c.notice.value}",
            highlight=False,
        )


@incidents_app.command("notice")
def notice(incident_id: str) -> None:
    """The notice as a customer will read it (for the first affected customer)."""
    from trustable.cli.main import console, running
    from trustable.incidents.notices import preview
    from trustable.incidents.service import get_incident

    with running() as trustable, trustable.reader() as uow:
        found = preview(
            uow, trustable.policy, get_incident(uow, incident_id), portal_url=portal_url(trustable)
        )
    if found is None:
        console.print("nobody is affected: there is no notice to send")
        return
    console.print(f"Subject: {found.subject}\n", highlight=False, markup=False)
    console.print(found.body, highlight=False, markup=False)


@incidents_app.command("approve")
def approve(incident_id: str) -> None:
    """Approve the notices (a privacy officer's decision), so they can be sent."""
    from trustable.cli.main import console, running
    from trustable.incidents.service import approve_notices, get_incident

    with running() as trustable, trustable.uow() as uow:
        found = approve_notices(
            uow, trustable.vault, get_incident(uow, incident_id), actor=ACTOR, now=trustable.clock()
        )
        uow.commit()
    console.print(f"{found.incident_id}: notices approved for {found.people} customers")


@incidents_app.command("send")
def send(
    incident_id: str,
    anyway: Annotated[
        bool,
        typer.Option("--anyway", help="Send even when the law does not require it (low risk)."),
    ] = False,
) -> None:
    """Send the approved notices by email, once."""
    from trustable.cli.main import console, running
    from trustable.incidents import runner
    from trustable.incidents.service import notice_counts

    with running() as trustable:
        sending = runner.send(
            trustable,
            incident_id,
            portal_url=portal_url(trustable),
            actor=ACTOR,
            anyway=anyway,
        )
        trustable.mailer.flush()
        with trustable.reader() as uow:
            failed = notice_counts(uow, incident_id).failed
    console.print(
        f"{incident_id}: {sending.sent} notices sent, {sending.no_email} customers have no "
        "email address on file",
        highlight=False,
    )
    if failed:
        console.print(
            f"[red]{failed} notices could not be delivered[/]; `trustable incidents send "
            f"{incident_id}` sends them, and only them, again",
            highlight=False,
        )
        raise typer.Exit(1)


@incidents_app.command("report")
def report(
    incident_id: str,
    json_out: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """The report for the supervisory authority (GDPR Art. 33(3)) and its clock."""
    import orjson

    from trustable.cli.main import console, running
    from trustable.incidents.report import regulator_report
    from trustable.incidents.service import get_incident

    with running() as trustable, trustable.reader() as uow:
        found = regulator_report(
            uow, trustable.policy, get_incident(uow, incident_id), now=trustable.clock()
        )
    if json_out:
        typer.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
        return
    nature = found["nature"]
    lines = [
        f"Report on {found['incident']} — {found['clock']} (due {found['deadline']})",
        f"Nature: {nature['description']}; "
        f"{nature['window']['start']} to {nature['window']['end']}",
        f"People concerned: about {nature['people']}; records: about {nature['records']}",
        "Categories: " + ", ".join(f"{c['name']} ({c['people']})" for c in nature["categories"]),
        f"Contact point: {found['contact']['organization']}, {found['contact']['contact']}",
        f"Likely consequences: {found['likely_consequences']}",
        "Measures: " + " ".join(found["measures"]),
    ]
    for line in lines:  # staff's free text is printed as it is, never as markup
        console.print(line, highlight=False, markup=False)


@incidents_app.command("submit")
def submit(
    incident_id: str,
    reason: Annotated[
        str | None, typer.Option(help="After 72 hours: the reasons for the delay.")
    ] = None,
) -> None:
    """Record that the report was submitted to the supervisory authority."""
    from trustable.cli.main import console, running
    from trustable.incidents.report import submit_report
    from trustable.incidents.service import get_incident

    with running() as trustable, trustable.uow() as uow:
        found = submit_report(
            uow,
            trustable.vault,
            get_incident(uow, incident_id),
            actor=ACTOR,
            now=trustable.clock(),
            delay_reason=reason,
        )
        uow.commit()
    assert found.report_submitted_at is not None
    console.print(
        f"{incident_id}: report submitted at {found.report_submitted_at:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )
