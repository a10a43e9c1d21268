"""`trustable segments list|show NAME|refresh`: the policy's segments and their sizes.

A thin shell over `segments.service`: it prints what the policy declares and how
many members each segment has (fewer than 10 as "<10"), never who.
"""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.markup import escape
from rich.table import Table

segments_app = typer.Typer(
    help="Segments: groups of customers by rules over consented data.", no_args_is_help=True
)


@segments_app.command("list")
def segments_list() -> None:
    """Every segment the policy declares: purposes and member count."""
    from trustable.cli.main import console, running
    from trustable.segments.reads import summaries

    with running() as trustable:
        with trustable.reader() as uow:
            found = summaries(uow, trustable.policy)
    if not found:
        console.print("the policy declares no segments", highlight=False)
        return
    table = Table(title="Segments")
    table.add_column("segment", no_wrap=True)
    table.add_column("used only for")
    table.add_column("members", justify="right")
    for s in found:
        table.add_row(escape(s.name), escape(", ".join(s.purposes)), s.members)
    console.print(table)


@segments_app.command("show")
def segments_show(name: Annotated[str, typer.Argument(help="The segment's name.")]) -> None:
    """One segment: its words for customers, purposes, rule and member count."""
    from trustable.cli.main import console, fail, running
    from trustable.core.errors import NotFound
    from trustable.segments.reads import summaries

    with running() as trustable:
        with trustable.reader() as uow:
            found = {s.name: s for s in summaries(uow, trustable.policy)}
        if name not in found:
            known = ", ".join(found) or "none"
            fail(NotFound(f"no segment '{name}' in the policy (declared: {known})"))
    s = found[name]
    console.print(f"[bold]{escape(s.name)}[/]", highlight=False)
    console.print(escape(s.description), highlight=False, soft_wrap=True)
    console.print(f"used only for: {escape(', '.join(s.purposes))}", highlight=False)
    rule = orjson.dumps(s.rule, option=orjson.OPT_SORT_KEYS).decode()
    console.print(f"rule: {escape(rule)}", highlight=False, soft_wrap=True)
    console.print(f"members: {s.members}", highlight=False)


@segments_app.command("refresh")
def segments_refresh() -> None:
    """Age out events past each window; members whose consent no longer holds leave.

    The running service does this after every retention sweep; each change is in
    the ledger.
    """
    from trustable.cli.main import console, running
    from trustable.segments.runner import refresh_all

    with running() as trustable:
        report = refresh_all(trustable)
    if report.elsewhere:
        console.print("another process is refreshing segments now: nothing was done here")
        return
    console.print(
        f"{report.hits_aged_out} counted events aged out, {report.hits_dropped} dropped "
        f"(consent withdrawn or segment removed); {report.joined} joined, {report.left} left",
        highlight=False,
        soft_wrap=True,
    )
