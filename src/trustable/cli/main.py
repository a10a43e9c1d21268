"""`trustable`: run the service, check the policy, manage keys, import data.

Every command reads its settings from the environment (`TRUSTABLE_HOME`,
`TRUSTABLE_DATABASE_URL`, `TRUSTABLE_POLICY`, `TRUSTABLE_MASTER_KEY`, …) when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trustable.bootstrap import Trustable, bootstrap, migrate
from trustable.cli.analytics import analytics_app
from trustable.cli.doctor import doctor
from trustable.cli.incidents import incidents_app
from trustable.cli.keys import keys_app
from trustable.cli.merges import merges_app
from trustable.cli.portal import portal_app
from trustable.cli.requests import requests_app
from trustable.cli.retention import retention_app
from trustable.cli.risk import risk_app
from trustable.cli.segments import segments_app
from trustable.cli.users import users_app
from trustable.cli.witness import witness_app
from trustable.core.errors import TrustableError
from trustable.core.settings import Settings
from trustable.ledger.sequencer import settle
from trustable.storage.failures import StoreUnavailable, unavailable

app = typer.Typer(
    help="Trustable: customer data that customers can trust.",
    no_args_is_help=True,
    add_completion=False,
)
policy_app = typer.Typer(help="Check the policy file.", no_args_is_help=True)
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
app.add_typer(witness_app, name="witness")
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
def running(settings: Settings | None = None, *, settling: bool = True) -> Iterator[Trustable]:
    """Bootstrap Trustable for one command, turning its errors into clear messages.

    Without `settling` the command leaves pending ledger records as it found them
    (`ledger verify` audits the log; it does not repair it)."""
    try:
        trustable = bootstrap(settings)
    except Exception as exc:
        fail(clear(exc))
    try:
        yield trustable
        if settling:
            # What the command recorded gets its place in the ledger before it
            # exits, whether or not a server is running to sequence it.
            settle(trustable)
    except Exception as exc:
        fail(clear(exc))
    finally:
        trustable.close()


def clear(exc: Exception) -> TrustableError:
    """The error to tell the operator: Trustable's own, or a store out of reach (said
    in words, without the driver's message, which may hold a host or a password);
    anything else is a fault and goes up with its traceback."""
    if isinstance(exc, TrustableError):
        return exc
    if unavailable(exc):
        return StoreUnavailable(
            f"a store could not be reached ({exc.__class__.__name__}): check that the "
            "database runs and that TRUSTABLE_DATABASE_URL and TRUSTABLE_KEYSTORE_URL "
            "name it, then run the command again"
        )
    raise exc


def fail(exc: TrustableError) -> NoReturn:
    err.print(f"[bold red]error[/]: {escape(exc.message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2 if exc.status >= 500 else 1)


def guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except Exception as exc:
        fail(clear(exc))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Also deliver to destinations.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Serving processes on the one address (each with its own threads; one "
            "of all the processes, and of all the hosts on the same database, sequences "
            "the ledger).",
        ),
    ] = 1,
) -> None:
    """Run the HTTP service (Segment-compatible collection and the API)."""
    from trustable.api.server import run
    from trustable.destinations.service import check_destinations

    settings = Settings.from_env()
    with running(settings) as trustable:
        check_destinations(trustable.policy, host or settings.host, port or settings.port)
        run(trustable, host or settings.host, port or settings.port, worker=worker, workers=workers)


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
                from trustable.ledger.sequencer import start_in_background

                # A long-running writer sequences too (when it leads), so its share
                # entries are logged within the interval even with no server running.
                sequencing, stop_sequencing = start_in_background(trustable)
                console.print("delivering to destinations (Ctrl-C to stop)")
                try:
                    delivery.run_forever(threading.Event())
                except KeyboardInterrupt:
                    pass
                finally:
                    stop_sequencing.set()
                    sequencing.join(timeout=10)
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
def db_upgrade(
    partitions: Annotated[
        int | None,
        typer.Option(
            help="PostgreSQL: partitions per per-customer table, chosen once when they "
            "are partitioned (default: TRUSTABLE_PARTITIONS, else 16); see docs/scale.md.",
        ),
    ] = None,
) -> None:
    """Migrate the data store and the key store to the latest schema."""
    from trustable.identity.contacts import count_unverified_contacts

    settings = Settings.from_env()
    guarded(lambda: migrate(settings, partitions=partitions))
    console.print("data store and key store are up to date")
    if partitions is not None and not settings.database_url.startswith("postgresql"):
        console.print("--partitions applies to PostgreSQL: this data store is not partitioned")
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
    from trustable.ledger.verify import verify

    with running(settling=False) as trustable, trustable.reader() as uow:
        result = verify(
            uow,
            trustable.vault.public_key(),
            now=trustable.clock(),
            max_delay=trustable.settings.ledger_max_delay,
        )
    if result.ok:
        console.print(
            f"ledger intact: {result.entries} entries, {result.heads_checked} signed heads checked"
        )
        return
    err.print(f"[bold red]ledger damaged[/]: {escape(result.problem or '')}", soft_wrap=True)
    raise typer.Exit(code=1)


@ledger_app.command("sign")
def ledger_sign() -> None:
    """Give pending records their indices and sign a tree head for the log as it is now."""
    from trustable.ledger.sequencer import flush
    from trustable.ledger.service import sign_head

    with running() as trustable:
        flush(trustable)
        with trustable.uow() as uow:
            head = sign_head(uow, trustable.vault, now=trustable.clock())
            uow.commit()
    console.print(f"signed head: {head.size} entries, root {head.root.hex()}")


@ledger_app.command("key")
def ledger_key() -> None:
    """Print the log's note verifier key: what a witness, an auditor or a browser
    needs, with the origin, to check the public checkpoints (docs/ledger.md)."""
    from trustable.ledger.public import log_key

    with running(settling=False) as trustable:
        key = log_key(trustable.vault, trustable.settings.checkpoint_origin)
    print(key.vkey())


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
