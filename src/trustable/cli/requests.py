"""`trustable requests …`: the queue of customers' requests, and acting on it.

A thin shell over `rights`: it shows ids, kinds, states and deadlines, never a
customer's values.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

requests_app = typer.Typer(help="Customers' requests: list, file, refuse, finish.")


@requests_app.command("list")
def requests_list(
    state: Annotated[
        str | None, typer.Option(help="received, verified, processing, done, refused")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="access, export, rectify, erase, …")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only those past deadline.")] = False,
) -> None:
    """Requests, oldest deadline first; overdue ones flagged."""
    # Imported here: `cli.main` imports this module to register the commands.
    from trustable.cli.main import console, guarded, running
    from trustable.rights.service import Kind, State, list_requests

    def parse() -> tuple[State | None, Kind | None]:
        from trustable.core.errors import InvalidInput

        try:
            return (State(state) if state else None, Kind(kind) if kind else None)
        except ValueError as exc:
            raise InvalidInput(str(exc), code="invalid_filter") from None

    wanted_state, wanted_kind = guarded(parse)
    with running() as trustable, trustable.reader() as uow:
        now = trustable.clock()
        found = list_requests(uow, now=now, state=wanted_state, kind=wanted_kind, overdue=overdue)
    table = Table("request", "kind", "state", "channel", "received", "due", "")
    for r in found:
        table.add_row(
            r.request_id,
            r.kind.value,
            r.state.value,
            r.channel.value,
            f"{r.received_at:%Y-%m-%d %H:%M}",
            f"{r.due_at:%Y-%m-%d}",
            "[red]overdue[/red]" if r.overdue(now) else "",
        )
    console.print(table if found else "no requests")


@requests_app.command("file")
def requests_file(
    customer: Annotated[str, typer.Option(help="The customer's id (cus_…).")],
    kind: Annotated[str, typer.Option(help="access, export, erase, restrict or object")],
    purpose: Annotated[list[str] | None, typer.Option(help="object: a purpose; repeat.")] = None,
) -> None:
    """File a request for a customer the company has verified itself, and carry it out."""
    from trustable.cli.main import console, guarded, running
    from trustable.core.errors import InvalidInput
    from trustable.rights import runner
    from trustable.rights.service import Channel, Kind, RightsRequest

    with running() as trustable:

        def file() -> RightsRequest:
            try:
                wanted = Kind(kind)
            except ValueError:
                raise InvalidInput(f"unknown kind '{kind}'", code="invalid_kind") from None
            if wanted is Kind.rectify:
                raise InvalidInput("a correction is filed through the API", code="invalid_kind")
            return runner.file_verified(
                trustable,
                customer_id=customer,
                kind=wanted,
                channel=Channel.api,
                actor="cli",
                detail={"purposes": purpose} if purpose else {},
            )

        done = guarded(file)
    console.print(f"{done.request_id}: {done.kind.value} {done.state.value}")
    if done.refusal:
        console.print(f"refused: {done.refusal}")


@requests_app.command("refuse")
def requests_refuse(
    request_id: Annotated[str, typer.Argument(help="The request (req_…).")],
    reason: Annotated[str, typer.Option(help="Why, in words the customer reads.")],
) -> None:
    from trustable.cli.main import console, guarded, running
    from trustable.rights.service import get_request, refuse

    with running() as trustable:

        def act() -> None:
            with trustable.uow() as uow:
                found = get_request(uow, request_id)
                refuse(uow, trustable.vault, found, reason, actor="cli", now=trustable.clock())
                uow.commit()

        guarded(act)
    console.print(f"{request_id}: refused")


@requests_app.command("resume")
def requests_resume() -> None:
    """Finish every verified request, and any left half-done by an interruption."""
    from trustable.cli.main import console, running
    from trustable.rights import runner

    with running() as trustable:
        finished = runner.resume(trustable, actor="cli")
    for r in finished:
        console.print(f"{r.request_id}: {r.kind.value} {r.state.value}")
    console.print(f"{len(finished)} request(s) carried on")
