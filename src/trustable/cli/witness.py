"""`trustable witness …`: run an independent cosigner of transparency logs.

A witness is meant to run elsewhere, by someone else: it needs no Trustable store,
only a folder of its own (its key and what it cosigned).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from trustable.witness.service import Fetch, Witness

witness_app = typer.Typer(
    help="An independent witness that cosigns transparency logs (C2SP tlog-witness).",
    no_args_is_help=True,
)
Folder = Annotated[Path, typer.Argument(help="The witness's own folder (key and state).")]


@witness_app.command("init")
def witness_init(
    folder: Folder,
    name: Annotated[str, typer.Option(help="The witness's name, e.g. witness.example.org/w1.")],
) -> None:
    """Make a new witness: an Ed25519 key (owner-only file) and an empty state."""
    from trustable.cli.main import fail
    from trustable.ledger.note import NoteError
    from trustable.witness.service import WitnessError, init

    try:
        key = init(folder, name)
    except WitnessError as exc:
        fail(exc)
    except NoteError as exc:
        fail(WitnessError(str(exc)))
    print(key.vkey())


@witness_app.command("key")
def witness_key(folder: Folder) -> None:
    """Print the witness's verifier key, for the logs that will ask it."""
    with _opened(folder) as witness:
        print(witness.vkey.vkey())


@witness_app.command("follow")
def witness_follow(
    folder: Folder,
    vkey: Annotated[str, typer.Argument(help="The log's verifier key (trustable ledger key).")],
    url: Annotated[
        str | None,
        typer.Option(help="Where the log serves /ledger/checkpoint and its tiles."),
    ] = None,
) -> None:
    """Follow a log: cosign its checkpoints once they extend what was cosigned."""
    from trustable.cli.main import console, fail
    from trustable.ledger.note import NoteError
    from trustable.witness.service import WitnessError

    with _opened(folder) as witness:
        try:
            followed = witness.follow(vkey, url)
        except NoteError as exc:
            fail(WitnessError(f"not a log's verifier key: {exc}"))
    console.print(f"following {followed.origin} (cosigned up to size {followed.size})")


@witness_app.command("logs")
def witness_logs(folder: Folder) -> None:
    """The logs followed, what was cosigned, and every refusal."""
    from trustable.cli.main import console

    with _opened(folder) as witness:
        for followed in witness.logs():
            state = "FORKED: " + followed.forked if followed.forked else "consistent"
            console.print(f"{followed.origin}  size {followed.size}  {state}", highlight=False)
            for reason, fork in witness.refusals(followed.origin):
                console.print(f"  refused{' (fork)' if fork else ''}: {reason}", highlight=False)


@witness_app.command("serve")
def witness_serve(
    folder: Folder,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
) -> None:
    """Serve `POST /add-checkpoint` (and `GET /`: who this witness is)."""
    import uvicorn

    from trustable.witness.client import TileFetcher
    from trustable.witness.routes import create_witness_app

    fetcher = TileFetcher()
    try:
        with _opened(folder, fetcher) as witness:
            uvicorn.run(create_witness_app(witness), host=host, port=port, log_level="info")
    finally:
        fetcher.close()


@contextmanager
def _opened(folder: Path, fetch: Fetch | None = None) -> Iterator[Witness]:
    from trustable.cli.main import fail
    from trustable.witness.service import Witness, WitnessError

    try:
        witness = Witness.open(folder, fetch)
    except WitnessError as exc:
        fail(exc)
    try:
        yield witness
    finally:
        witness.close()
