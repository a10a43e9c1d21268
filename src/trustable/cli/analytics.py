"""`trustable analytics …`: aggregates from the command line, as the API answers them.

The command line is one analyst, `cli`, with a budget of its own; every answer is in
the ledger under that name. What is printed is groups and numbers, never a person.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

analytics_app = typer.Typer(
    help="Aggregates over consented customers: groups of at least k, optionally private.",
    no_args_is_help=True,
)
ANALYST = "cli"


@analytics_app.command("query")
def query(
    measure: Annotated[str, typer.Option(help="count, sum or distribution")] = "count",
    of: Annotated[str, typer.Option(help="what a count counts: customers or events")] = (
        "customers"
    ),
    value: Annotated[
        str | None, typer.Option(help="sum: a declared measure; distribution: a dimension")
    ] = None,
    group_by: Annotated[str | None, typer.Option(help="a declared dimension")] = None,
    event: Annotated[str | None, typer.Option(help="only track events of this name")] = None,
    since: Annotated[str | None, typer.Option(help="first UTC day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="last UTC day, YYYY-MM-DD")] = None,
    epsilon: Annotated[
        float | None, typer.Option(help="answer privately, spending this epsilon")
    ] = None,
) -> None:
    """Ask one aggregate; groups below k are shown as suppressed."""
    from pydantic import ValidationError

    from trustable.analytics import runner
    from trustable.analytics.schemas import AggregateQuery
    from trustable.cli.main import console, err, running

    fields: dict[str, object] = {"measure": measure, "of": of}
    for name, given in (("value", value), ("group_by", group_by), ("event", event)):
        if given is not None:
            fields[name] = given
    for name, day in (("since", since), ("until", until)):
        if day is not None:
            fields[name] = day
    if epsilon is not None:
        fields |= {"private": True, "epsilon": epsilon}
    try:
        asked = AggregateQuery.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'query'}: {e['msg']}" for e in exc.errors()
        )
        err.print(f"[bold red]error[/]: {escape(problems)}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    with running() as trustable:
        answer = runner.ask(trustable, asked, analyst=ANALYST)
    table = Table(*answer.columns, "value", "customers")
    for cell in answer.cells:
        shown = (
            f"suppressed ({cell.suppressed.value.replace('_', ' ')})"
            if cell.suppressed is not None
            else f"{cell.value:g}"
        )
        who = "" if cell.customers is None else str(cell.customers)
        table.add_row(*(escape(label) for label in cell.labels), shown, who)
    console.print(table)
    if answer.private:
        console.print(
            f"private: epsilon {answer.epsilon:g} spent, noise scale {answer.scale:.3g}; "
            f"{answer.remaining:g} left today"
        )
    console.print(
        f"{answer.released} groups shown, {answer.suppressed} suppressed (k = {answer.k})"
    )
    for note in answer.notes:
        console.print(escape(note))


@analytics_app.command("budget")
def budget() -> None:
    """The command line's privacy budget today."""
    from trustable.analytics import runner
    from trustable.cli.main import console, running

    with running() as trustable:
        found = runner.remaining(trustable, analyst=ANALYST)
    console.print(
        f"{found.remaining:g} of {found.limit:g} epsilon left on {found.period}; resets at "
        f"{found.resets_at.strftime('%Y-%m-%d %H:%M')} UTC"
    )
