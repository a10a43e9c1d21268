"""`trustable keys …`: API keys for collection, reading and administration.

A thin shell over `access.service` (and `vault.rotation` for the master key). A new
key's secret is printed once, alone on standard output so that it can be piped; what
`create` says besides goes to standard error.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from trustable.access.service import scope_meanings
from trustable.core.settings import Settings

keys_app = typer.Typer(
    help="API keys: create, list, revoke (write keys for collection, read keys, admin).",
    no_args_is_help=True,
)


def _scopes_help() -> str:
    """The scopes a key may hold, each with what it is for, from `access.service`'s
    one list (so the help cannot fall behind it)."""
    width = max(len(s) for s in scope_meanings()) + 2
    lines = [
        f"{escape(scope).ljust(width)}{escape(meaning)}"
        for scope, meaning in scope_meanings().items()
    ]
    return "Scopes (repeat --scope for several):\n\n" + "\n".join(lines)


@keys_app.command("create", epilog=_scopes_help())
def keys_create(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Who or what uses the key, e.g. 'web shop' or 'shop backend'.",
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="A scope the key holds (listed below); repeat for several.", show_default=False
        ),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            help="When the key stops working: a number of days (90d) or a date (2027-06-30, "
            "from 00:00 UTC). Default: never.",
            show_default=False,
        ),
    ] = None,
    name_option: Annotated[str | None, typer.Option("--name", hidden=True)] = None,
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    from trustable.access.service import create_key, parse_expiry
    from trustable.cli.main import err, running

    if (name is None) == (name_option is None):
        err.print("[bold red]error[/]: give the key one name: trustable keys create NAME --scope …")
        raise typer.Exit(code=1)
    if not scope:
        err.print("[bold red]error[/]: a key needs at least one --scope (see --help)")
        raise typer.Exit(code=1)
    with running() as trustable:
        now = trustable.clock()
        expires_at = parse_expiry(expires, now=now)
        with trustable.uow() as uow:
            key, plaintext = create_key(
                uow,
                trustable.policy,
                name=name or name_option or "",
                scopes=scope,
                now=now,
                expires_at=expires_at,
            )
            uow.commit()
    until = f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
    err.print(
        f"created key {key.key_id} ({', '.join(sorted(key.scopes))}{until}); "
        "store it now, it is not shown again:",
        highlight=False,
        soft_wrap=True,
    )
    if "collect" in key.scopes:
        err.print("a collect key is public: it may ship in web pages and apps", highlight=False)
    if "collect:server" in key.scopes or "admin" in key.scopes:
        err.print("keep this key secret: on servers only, never in a page or app", highlight=False)
    print(plaintext)


def _moment(moment: datetime | None, none: str = "") -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else none


@keys_app.command("list")
def keys_list() -> None:
    """Every API key: scopes, when it was made, last used, expires or was revoked.

    Never a key's secret: that was shown once, when it was made. Last use is
    recorded to the minute.
    """
    from trustable.access.service import list_keys
    from trustable.cli.main import console, running

    with running() as trustable, trustable.reader() as uow:
        now = trustable.clock()
        found = list_keys(uow)
    if not found:
        console.print("no API keys yet: `trustable keys create NAME --scope …`")
        return
    # A narrow terminal folds what does not fit rather than cut it short; ids stay whole.
    table = Table(title="API keys (times in UTC)", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("id", no_wrap=True)
    for column in ("name", "scopes", "created", "last used", "expires", "revoked"):
        table.add_column(column, overflow="fold")
    for key in found:
        expires = _moment(key.expires_at)
        if key.expired(now):
            expires = f"[yellow]{expires} (expired)[/]"
        table.add_row(
            key.key_id,
            escape(key.name),
            escape("\n".join(key.scopes)),
            _moment(key.created_at),
            _moment(key.last_used_at, "never"),
            expires,
            f"[red]{_moment(key.revoked_at)}[/]" if key.revoked_at else "",
            style="dim" if not key.live(now) else None,
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[
        str, typer.Argument(help="The key's id (key_…), from `keys list`.", metavar="ID")
    ],
) -> None:
    """Revoke a key for good: every process refuses it from now on.

    Revoking a revoked key changes nothing. The key stays listed (the ledger names
    keys by id).
    """
    from trustable.access.service import revoke_key
    from trustable.cli.main import console, running

    with running() as trustable, trustable.uow() as uow:
        found, revoked = revoke_key(uow, key_id.strip(), now=trustable.clock())
        uow.commit()
    name = escape(found.name)
    if revoked:
        console.print(f"revoked key {found.key_id} ({name}): it is refused from now on")
    else:
        console.print(
            f"key {found.key_id} ({name}) was already revoked on {_moment(found.revoked_at)} UTC"
        )


@keys_app.command("rotate-master")
def keys_rotate_master(
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            "--new-key-file",
            help="A new master key you made (base64url of 32 bytes, file mode 0600). "
            "Default: a new key, written to master.key.next beside master.key.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Re-wrap every customer key and store secret under a new master key.

    Only the key store changes. Interrupted, run it again: it resumes. Stop
    `trustable serve` and workers first; start them again after, with the new key.
    """
    from rich.progress import Progress

    from trustable.cli.main import console, err, guarded
    from trustable.vault.rotation import rotate_master_key

    settings = Settings.from_env()
    with Progress(console=err) as progress:
        task = progress.add_task("re-wrapping keys", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        outcome = guarded(
            lambda: rotate_master_key(settings, new_key_file=new_key_file, progress=advance)
        )
    rotation = outcome.rotation
    if rotation.already_done:
        console.print(f"the key store was already under master key {rotation.new_id}")
    else:
        resumed = ", resuming the interrupted rotation" if rotation.resumed else ""
        console.print(
            f"re-wrapped {rotation.moved} keys and secrets under master key {rotation.new_id} "
            f"(was {rotation.old_id}){resumed}",
            soft_wrap=True,
        )
    path = escape(str(outcome.new_key_file))
    if outcome.source == "file":
        console.print(
            f"{escape(str(outcome.key_file))} now holds the new master key; the old key is "
            "gone and no longer opens the key store"
            + (f" ({path} still holds a copy of the new key)" if new_key_file else ""),
            soft_wrap=True,
        )
    else:
        console.print(
            f"[bold yellow]Set TRUSTABLE_MASTER_KEY to the new master key now[/]: it is in "
            f"{path}. The old key no longer opens the key store. Delete {path} once the new "
            "key is kept where TRUSTABLE_MASTER_KEY comes from.",
            soft_wrap=True,
        )
    console.print("Restart `trustable serve` and workers so that they use the new key.")
