"""`trustable`: run the service, check the policy, manage keys, import data.

Every command reads its settings from the environment (`TRUSTABLE_HOME`,
`TRUSTABLE_DATABASE_URL`, `TRUSTABLE_POLICY`, `TRUSTABLE_MASTER_KEY`, …) when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trustable.access.service import scope_meanings
from trustable.bootstrap import Trustable, bootstrap, migrate
from trustable.cli.analytics import analytics_app
from trustable.cli.doctor import doctor
from trustable.cli.incidents import incidents_app
from trustable.cli.merges import merges_app
from trustable.cli.portal import portal_app
from trustable.cli.requests import requests_app
from trustable.cli.retention import retention_app
from trustable.cli.risk import risk_app
from trustable.cli.segments import segments_app
from trustable.cli.users import users_app
from trustable.core.errors import TrustableError
from trustable.core.settings import Settings

app = typer.Typer(
    help="Trustable: customer data that customers can trust.",
    no_args_is_help=True,
    add_completion=False,
)
policy_app = typer.Typer(help="Check the policy file.", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys: create, list, revoke (write keys for collection, read keys, admin).",
    no_args_is_help=True,
)
collection_app = typer.Typer(help="What collection kept and dropped.", no_args_is_help=True)
db_app = typer.Typer(help="The stores' schemas.", no_args_is_help=True)
import_app = typer.Typer(help="Load customers and events from a data set.", no_args_is_help=True)
ledger_app = typer.Typer(help="The transparency ledger.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(keys_app, name="keys")
app.add_typer(collection_app, name="collection")
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(ledger_app, name="ledger")
app.add_typer(retention_app, name="retention")
app.add_typer(requests_app, name="requests")
app.add_typer(portal_app, name="portal")
app.add_typer(users_app, name="users")
app.add_typer(risk_app, name="risk")
app.add_typer(incidents_app, name="incidents")
app.add_typer(segments_app, name="segments")
app.add_typer(analytics_app, name="analytics")
app.add_typer(merges_app, name="merges")
app.command("doctor")(doctor)

console = Console()
err = Console(stderr=True)


def _print_version(asked: bool) -> None:
    """`--version`: the installed package's version, which is what bug reports need."""
    if asked:
        console.print(f"trustable {metadata.version('trustable')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print Trustable's version and stop.",
        ),
    ] = False,
) -> None:
    """Trustable: customer data that customers can trust."""
T = TypeVar("T")


@contextmanager
def running(settings: Settings | None = None) -> Iterator[Trustable]:
    """Bootstrap Trustable for one command, turning its errors into clear messages."""
    try:
        trustable = bootstrap(settings)
    except TrustableError as exc:
        fail(exc)
    try:
        yield trustable
    except TrustableError as exc:
        fail(exc)
    finally:
        trustable.close()


def fail(exc: TrustableError) -> NoReturn:
    err.print(f"[bold red]error[/]: {escape(exc.message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2 if exc.status >= 500 else 1)


def guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except TrustableError as exc:
        fail(exc)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Also deliver to destinations.")
    ] = True,
) -> None:
    """Run the HTTP service (Segment-compatible collection and the API)."""
    from trustable.api.server import run
    from trustable.destinations.service import check_destinations

    settings = Settings.from_env()
    with running(settings) as trustable:
        check_destinations(trustable.policy, host or settings.host, port or settings.port)
        run(trustable, host or settings.host, port or settings.port, worker=worker)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due, then stop.")] = False,
) -> None:
    """Deliver queued events to destinations, with consent checked at send time."""
    import threading

    from trustable.destinations.service import check_destinations
    from trustable.destinations.worker import Worker

    settings = Settings.from_env()
    with running(settings) as trustable:
        check_destinations(trustable.policy, settings.host, settings.port)
        delivery = Worker(trustable)
        try:
            if once:
                outcomes = delivery.run_once()
                console.print(
                    "delivered: "
                    + ", ".join(f"{n} {state}" for state, n in sorted(outcomes.items()))
                    if outcomes
                    else "nothing was due"
                )
            else:
                console.print("delivering to destinations (Ctrl-C to stop)")
                try:
                    delivery.run_forever(threading.Event())
                except KeyboardInterrupt:
                    pass
        finally:
            delivery.close()


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the demo store and seed it again.")
    ] = False,
    customers: Annotated[
        int,
        typer.Option(
            min=0, max=100_000, help="Customers beside the eight named ones, when seeded."
        ),
    ] = 1000,
) -> None:
    """Seed a demo shop that has lived 90 days (once: a seeded store is reused), print
    how to send events, and serve on 127.0.0.1."""
    from rich.progress import Progress

    from trustable.api.server import run
    from trustable.demo.shop import explain, reset_demo, seed_demo
    from trustable.demo.warehouse import Warehouse, with_warehouse

    settings = Settings.from_env()
    if reset:
        guarded(lambda: reset_demo(settings))
    warehouse = Warehouse().start()
    try:
        settings = with_warehouse(settings, warehouse.url)
        with running(settings) as trustable:
            with Progress(console=err, transient=True) as progress:
                task = progress.add_task("seeding 90 days of the demo shop", total=None)

                def advance(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                seeded = seed_demo(trustable, customers=customers, progress=advance)
            explain(console, trustable, seeded, port or settings.port)
            if serve_after:
                run(trustable, settings.host, port or settings.port)
    finally:
        warehouse.stop()


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(help="The policy YAML file.", dir_okay=False)],
) -> None:
    """Validate a policy against fideslang's taxonomy; exit 1 naming every problem."""
    from trustable.policy.service import load_policy, unused_categories

    policy = guarded(lambda: load_policy(file))
    table = Table(title=f"{file}: valid (notice version {policy.notice_version})")
    for column in ("purpose", "legal basis", "categories", "retention"):
        table.add_column(column)
    for key, purpose in policy.purposes.items():
        table.add_row(
            key,
            purpose.spec.legal_basis.value,
            ", ".join(purpose.spec.categories),
            f"{purpose.spec.retention_days} days",
        )
    console.print(table)
    console.print(f"tracking plan: {len(policy.spec.tracking_plan)} fields")
    for path in unused_categories(policy):
        console.print(
            f"[yellow]warning[/]: tracking_plan.{path}: no purpose uses its category; "
            "it will always be dropped"
        )


@policy_app.command("audit")
def policy_audit() -> None:
    """Check the running system against the policy's promises; exit 1 listing breaks."""
    from trustable.policy.audit import audit

    with running() as trustable, trustable.reader() as uow:
        breaks = audit(uow, trustable.policy)
    if not breaks:
        console.print(f"policy audit passed ({trustable.policy.source})")
        return
    for found in breaks:
        err.print(
            f"[bold red]break[/] [{escape(found.promise)}] {escape(found.detail)}", soft_wrap=True
        )
    raise typer.Exit(code=1)


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


@collection_app.command("drops")
def collection_drops() -> None:
    """Fields dropped at the door, by field and reason (counts only, never values)."""
    from trustable.events.service import drop_counts

    with running() as trustable, trustable.reader() as uow:
        counts = drop_counts(uow)
    table = Table(title="Dropped at collection")
    for column in ("field", "reason", "count", "last seen"):
        table.add_column(column)
    for row in counts:
        table.add_row(row.field, row.reason, str(row.count), f"{row.last_seen_at:%Y-%m-%d %H:%M}")
    console.print(table if counts else "Nothing has been dropped.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the data store and the key store to the latest schema."""
    from trustable.identity.contacts import count_unverified_contacts

    settings = Settings.from_env()
    guarded(lambda: migrate(settings))
    console.print("data store and key store are up to date")
    with running() as trustable, trustable.reader() as uow:
        waiting = count_unverified_contacts(uow)
    if waiting:
        what = (
            "email address or phone number awaits"
            if waiting == 1
            else "email addresses and phone numbers await"
        )
        console.print(
            f"{waiting} {what} verification: until the shop's backend sends them again "
            "with a collect:server key, or each customer proves theirs in the portal, none "
            "signs anyone in or receives a code (docs/identity.md, 'Stores that existed "
            "before')."
        )


@import_app.command("movielens")
def import_movielens(
    path: Annotated[Path, typer.Argument(help="Folder with ml-100k.user/.item/.inter")],
    deny_share: Annotated[
        float,
        typer.Option(help="Share of people (0–1) recorded as denying personalization."),
    ] = 0.0,
    limit: Annotated[int | None, typer.Option(help="Import only this many ratings.")] = None,
) -> None:
    """Load MovieLens 100K: 943 customers and their ratings, through collection."""
    from rich.progress import Progress

    from trustable.demo.movielens import import_movielens as run_import

    with running() as trustable, Progress(console=err) as progress:
        task = progress.add_task("importing ratings", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = run_import(trustable, path, deny_share=deny_share, limit=limit, progress=advance)
    console.print(
        f"imported {summary.customers} customers and {summary.events} ratings "
        f"({summary.stored} events stored, {summary.fields_dropped} fields dropped)"
    )


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Recompute the whole tree from storage and check every signed head.

    Exits 1 naming the first entry that was altered, removed or reordered.
    """
    from trustable.ledger.service import verify

    with running() as trustable, trustable.reader() as uow:
        result = verify(uow, trustable.vault.public_key())
    if result.ok:
        console.print(
            f"ledger intact: {result.entries} entries, {result.heads_checked} signed heads checked"
        )
        return
    err.print(f"[bold red]ledger damaged[/]: {escape(result.problem or '')}", soft_wrap=True)
    raise typer.Exit(code=1)


@ledger_app.command("sign")
def ledger_sign() -> None:
    """Sign a tree head for the log as it is now."""
    from trustable.ledger.service import sign_head

    with running() as trustable, trustable.uow() as uow:
        head = sign_head(uow, trustable.vault, now=trustable.clock())
        uow.commit()
    console.print(f"signed head: {head.size} entries, root {head.root.hex()}")


destinations_app = typer.Typer(help="Downstream destinations.", no_args_is_help=True)
app.add_typer(destinations_app, name="destinations")


@destinations_app.command("secret")
def destinations_secret(
    name: Annotated[str, typer.Argument(help="The destination's name in the policy.")],
) -> None:
    """Print the HMAC secret a destination uses to check Trustable's signatures."""
    with running() as trustable:
        if name not in trustable.policy.spec.destinations:
            err.print(f"[bold red]error[/]: no destination named {escape(name)}")
            raise typer.Exit(code=1)
        print(trustable.vault.destination_secret(name).hex())
