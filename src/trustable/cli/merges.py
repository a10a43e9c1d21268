"""`trustable merges list|undo`: joins of two customers' histories, and undoing one.

A thin shell over `events.merge`: joins are shown by customer id, who asked for them
and when, never a value; undoing one splits the histories again, with a ledger
entry on both customers (docs/identity.md).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

merges_app = typer.Typer(
    help="Joined histories: list the joins of two customers, undo one.", no_args_is_help=True
)


@merges_app.command("list")
def merges_list(
    customer: Annotated[
        str | None, typer.Option(help="Only the joins this customer id took part in.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first.")] = 50,
) -> None:
    """The newest joins first: the survivor, the absorbed history, when, by whom."""
    from trustable.cli.main import console, running
    from trustable.identity.merges import list_merges

    with running() as trustable, trustable.reader() as uow:
        found = list_merges(uow, customer_id=customer, limit=limit)
    if not found:
        console.print("no joins", highlight=False)
        return
    # One block per join rather than a table: three ids side by side pass 80 columns,
    # and an id cut short cannot be copied into `merges undo`.
    for m in found:
        state = (
            f"undone {m.undone_at:%Y-%m-%d %H:%M} by {escape(m.undone_by or '')}"
            if m.undone_at
            else "in force"
        )
        console.print(
            f"[bold]{m.merge_id}[/]  {m.merged_at:%Y-%m-%d %H:%M}  by {escape(m.actor)}  "
            f"({state})\n  kept      {m.winner}\n  absorbed  {m.loser}",
            highlight=False,
            soft_wrap=True,
        )


@merges_app.command("undo")
def merges_undo(
    merge_id: Annotated[str, typer.Argument(help="The join's id (mrg_…), from `merges list`.")],
) -> None:
    """Split a join: the absorbed history becomes a customer of its own again, with
    its identifiers, events, traits, consent records and ledger entries."""
    from trustable.cli.main import console, running
    from trustable.events.merge import split_histories

    with running() as trustable, trustable.uow() as uow:
        split = split_histories(
            uow, trustable.vault, merge_id.strip(), actor="cli", now=trustable.clock()
        )
        uow.commit()
    console.print(
        f"undone: {split.restored} is a customer of its own again, taking back "
        f"{split.identifiers} identifiers, {split.events} events and {split.traits} traits "
        f"from {split.holder}",
        highlight=False,
    )
