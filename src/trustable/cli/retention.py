"""`trustable retention run [--dry-run]`: delete what is past its retention, or show it.

A thin shell over `retention.runner.sweep_all`: it prints counts by category, never
a value, a customer or a field name.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trustable.retention.service import SweepReport

retention_app = typer.Typer(
    help="Retention: delete data past what the policy allows to keep.", no_args_is_help=True
)


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Change nothing; show what would go.")
    ] = False,
) -> None:
    """Delete events and traits past their category's retention; counts by category.

    A category is kept as long as the longest retention among the purposes using it;
    events only partly past it are trimmed; each customer affected gets one ledger
    entry. Consent records and the ledger are kept: they are the proof.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    # Imported here: `cli.main` imports this module to register the command.
    from trustable.cli.main import console, err, running
    from trustable.identity.service import count_customers
    from trustable.retention.runner import sweep_all

    with running() as trustable:
        with trustable.reader() as uow:
            customers = count_customers(uow)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("sweeping customers", total=customers)

            def advance(total: SweepReport) -> None:
                progress.update(task, completed=total.customers_scanned)

            report = sweep_all(trustable, dry_run=dry_run, progress=advance)
    if report.anything:
        console.print(report_table(report))
    console.print(summary(report), soft_wrap=True, highlight=False)
    if report.customers_skipped:
        err.print(
            f"[yellow]warning[/]: {report.customers_skipped} customer(s) with expired data "
            "have no data key (erased or being erased); left to erasure",
            soft_wrap=True,
        )


def report_table(report: SweepReport) -> Table:
    """Counts by category: what went, or with a dry run what would go."""
    title = "Past retention: would go (dry run)" if report.dry_run else "Past retention: gone"
    table = Table(title=title)
    table.add_column("category", no_wrap=True)
    table.add_column("kept for", justify="right")
    for column in ("events deleted", "events trimmed", "traits deleted"):
        table.add_column(column, justify="right")
    for key, counts in sorted(report.categories.items()):
        days = counts.retention_days
        kept = "no purpose" if days is None else f"{days} days"
        table.add_row(
            key,
            kept,
            str(counts.events_deleted),
            str(counts.events_trimmed),
            str(counts.traits_deleted),
        )
    return table


def summary(report: SweepReport) -> str:
    if report.elsewhere and not report.customers_scanned:
        return "another process is sweeping now: nothing was done here"
    checked = f"{report.customers_affected} of {report.customers_scanned} customers"
    if not report.anything:
        return f"nothing is past its retention ({report.customers_scanned} customers checked)"
    if report.dry_run:
        return (
            f"dry run, nothing was changed: a run now would delete {report.events_deleted} "
            f"events, trim {report.events_trimmed} and delete {report.traits_deleted} traits, "
            f"for {checked}"
        )
    return (
        f"deleted {report.events_deleted} events, trimmed {report.events_trimmed} and "
        f"deleted {report.traits_deleted} traits, for {checked}; "
        f"{report.ledger_entries} ledger entries written"
    )
