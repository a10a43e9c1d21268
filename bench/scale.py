"""Scale-out: several serving processes, two servers on one database, the sequencer.

Trustable scales out by adding serving processes (`trustable serve --workers N`) and
hosts in front of one PostgreSQL, each writing its ledger records as pending, with
one sequencer among them giving those records their indices. This section measures
what that buys and what it costs, each figure beside its own baseline in the same
run, every server a real `python -m trustable serve` subprocess:

1. Collection over HTTP on PostgreSQL (fresh schemas, dropped afterwards) with
   `--workers 1` and then `--workers 2` (judged), driven by section 1's clients and
   traffic; the baseline is a plain `COPY` of as many rows shaped as the stored events
   into a scratch table of the same database, timed in the same run.
2. The same on SQLite, each run on its own copy of one seeded store.
3. The maximum merge delay at full load, from the judged PostgreSQL run: for every
   ledger entry recorded in its timed window, the `signed_at` of the first head that
   covers it minus the entry's `at`.
4. Sequencing alone: records submitted as pending (`ledger.submit`, 1,000 per unit of
   work) into a fresh store, then `ledger.sequencer.flush` timed by itself, on both
   databases.
5. Two servers on one PostgreSQL, every batch sent to both at once: no message lost,
   none stored twice, no 5xx, and `ledger verify` passes afterwards.
6. CPU per collected event for the capacity model, app and database apart, from the
   judged PostgreSQL run (see `bench.fleet`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bench.fleet import (
    Collection,
    CopyResult,
    MergeDelay,
    TwinResult,
    collect,
    copy_baseline,
    merge_delay,
    twin_servers,
)
from bench.report import Figure, table
from bench.traffic import Traffic, make_users
from bench.world import Seeded, Store, new_store, postgres_store, seed
from trustable.bootstrap import Trustable
from trustable.ledger import service as ledger_service
from trustable.ledger.sequencer import flush
from trustable.storage.engine import make_engine

TARGET_PG_EVENTS_S = 12_000.0
TARGET_COPY_RATIO = 0.20
TARGET_SQLITE_EVENTS_S = 8_000.0
TARGET_MERGE_DELAY_P99_MS = 2_000.0
TARGET_SEQUENCED_S = 50_000.0
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class ScaleOptions:
    postgres_url: str
    users: int  # pool of users sending events in the collection runs
    clients: int  # client threads in the collection runs
    warmup_s: float
    duration_s: float
    sequenced: int  # pending records sequenced at once
    submit_unit: int  # records per unit of work when submitting them
    twin_users: int
    twin_batches: int  # batches, each sent to both servers
    twin_clients: int
    seed: int


@dataclass(frozen=True)
class Sequencing:
    dialect: str
    records: int
    submit_s: float
    flush_s: float
    signed: bool

    @property
    def per_s(self) -> float:
        return self.records / self.flush_s

    @property
    def submitted_per_s(self) -> float:
        return self.records / self.submit_s


@dataclass(frozen=True)
class PostgresCollection:
    run: Collection
    copy: CopyResult

    @property
    def ratio(self) -> float:
        return self.run.events_per_s / self.copy.per_s


@dataclass(frozen=True)
class ScaleResult:
    postgres: list[PostgresCollection]  # --workers 1, then 2 (judged)
    sqlite: list[Collection]  # --workers 1, then 2 (judged)
    delay: MergeDelay
    sequencing: list[Sequencing]  # PostgreSQL, SQLite
    twin: TwinResult
    options: ScaleOptions

    def judged_postgres(self) -> PostgresCollection:
        return self.postgres[-1]

    def judged_sqlite(self) -> Collection:
        return self.sqlite[-1]


def reachable(postgres_url: str) -> str | None:
    """Why the PostgreSQL the section needs cannot be used (None: it can): checked
    before the run starts, not after an hour of other sections."""
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return exc.__class__.__name__
    finally:
        engine.dispose()
    return None


def measure(work: Path, opts: ScaleOptions, progress: Callable[[str], None]) -> ScaleResult:
    rng = random.Random(opts.seed)
    users = make_users(opts.users, rng)
    traffic = Traffic(users, rng)
    work.mkdir(parents=True, exist_ok=True)

    progress(f"  PostgreSQL: seeding {opts.users:,} users into fresh schemas")
    postgres: list[PostgresCollection] = []
    with postgres_store(work / "pg-home", opts.postgres_url) as store:
        seeded = seed(store, users, rng)
        app = store.open()
        try:
            for workers in (1, 2):
                run = _collect(seeded, traffic, work, workers, opts, app, progress)
                copied = copy_baseline(app, rows=run.load.events, seed=opts.seed)
                progress(
                    f"    COPY of {copied.rows:,} rows: {copied.per_s:,.0f} rows/s; "
                    f"HTTP / COPY {run.events_per_s / copied.per_s:.3f}"
                )
                postgres.append(PostgresCollection(run, copied))
            delay = merge_delay(app, postgres[-1].run)
            progress(
                f"    merge delay of {delay.entries:,} entries: p50 {delay.at(0.5):.2f} s, "
                f"p99 {delay.at(0.99):.2f} s, max {delay.max_s:.2f} s"
            )
        finally:
            app.close()

    progress(f"  SQLite: seeding {opts.users:,} users")
    sqlite_seed = seed(new_store(work / "sqlite-seed"), users, rng)
    sqlite: list[Collection] = []
    for workers in (1, 2):
        copy = sqlite_seed.store.clone(work / f"sqlite-w{workers}")
        moved = Seeded(copy, sqlite_seed.write_key, sqlite_seed.consents)
        sqlite.append(_collect(moved, traffic, work, workers, opts, None, progress))

    sequencing: list[Sequencing] = []
    progress(f"  sequencing {opts.sequenced:,} pending records")
    with postgres_store(work / "pg-sequencing", opts.postgres_url) as store:
        sequencing.append(_sequencing(store, opts, progress))
    sequencing.append(_sequencing(new_store(work / "sqlite-sequencing"), opts, progress))

    progress(
        f"  two servers on one PostgreSQL: {opts.twin_batches:,} batches, each to both, "
        f"{opts.twin_users:,} users shared"
    )
    with postgres_store(work / "pg-twin", opts.postgres_url) as store:
        twin_rng = random.Random(opts.seed + 1)
        twin_users = make_users(opts.twin_users, twin_rng)
        twin_seed = seed(store, twin_users, twin_rng)
        app = store.open()
        try:
            twin = twin_servers(
                store,
                twin_seed.write_key,
                Traffic(twin_users, twin_rng),
                work,
                batches=opts.twin_batches,
                clients=opts.twin_clients,
                app=app,
            )
        finally:
            app.close()
    progress(
        f"    answers {dict(twin.statuses)}; lost {twin.lost}, duplicated {twin.duplicated}; "
        f"verify {'ok' if twin.verified else twin.problem}"
    )
    return ScaleResult(postgres, sqlite, delay, sequencing, twin, opts)


def _collect(
    seeded: Seeded,
    traffic: Traffic,
    work: Path,
    workers: int,
    opts: ScaleOptions,
    app: Trustable | None,
    progress: Callable[[str], None],
) -> Collection:
    dialect = seeded.store.dialect
    progress(
        f"    {dialect}, serve --workers {workers}: {opts.warmup_s:.0f} s warm-up, "
        f"{opts.duration_s:.0f} s timed, {opts.clients} clients"
    )
    run = collect(
        seeded.store,
        seeded.write_key,
        traffic,
        work / f"serve-{dialect}-w{workers}.log",
        workers=workers,
        clients=opts.clients,
        warmup_s=opts.warmup_s,
        duration_s=opts.duration_s,
        app=app,
    )
    database = (
        f", database {run.cpu.database_us:.0f} µs (its own sessions {run.cpu.sessions_us:.0f})"
        if dialect == "postgresql"
        else ""
    )
    progress(
        f"    {run.events_per_s:,.0f} events/s; CPU per stored event: app "
        f"{run.cpu.server_us:.0f} µs{database}"
    )
    if run.failures:
        progress(f"    {len(run.failures)} failures; first: {run.failures[0][:200]}")
    return run


def submit_pending(app: Trustable, *, records: int, unit: int) -> float:
    """`records` collection records submitted as pending, `unit` per committed unit of
    work (as 10 batches of 100 would); seconds spent. No customer is named (the vault
    would need a key per customer); the detail is shaped as collection's."""
    now = app.clock()
    kinds = ("track", "page", "identify")
    spent = 0.0
    for start in range(0, records, unit):
        batch = [
            ledger_service.Record(
                kind="collect",
                customer_id=None,
                actor="key_0123456789abcdef",
                detail={
                    "type": kinds[n % 3],
                    "kept": ["user.behavior.browsing_history", "user.device.cookie_id"],
                    "dropped": {"not_permitted": ["user.contact.email"], "not_in_plan": 2},
                },
            )
            for n in range(start, min(records, start + unit))
        ]
        began = time.perf_counter()
        with app.uow() as uow:
            ledger_service.submit(uow, app.vault, batch, now=now)
            uow.commit()
        spent += time.perf_counter() - began
    return spent


def _sequencing(store: Store, opts: ScaleOptions, progress: Callable[[str], None]) -> Sequencing:
    app = store.open()
    try:
        submit_s = submit_pending(app, records=opts.sequenced, unit=opts.submit_unit)
        began = time.perf_counter()
        flushed = flush(app)
        flush_s = time.perf_counter() - began
        with app.reader() as uow:
            size = ledger_service.tree_size(uow)
    finally:
        app.close()
    if flushed.sequenced != opts.sequenced or size != opts.sequenced:
        raise RuntimeError(
            f"{flushed.sequenced} records sequenced, log of {size}, for {opts.sequenced}"
        )
    result = Sequencing(store.dialect, opts.sequenced, submit_s, flush_s, flushed.signed)
    progress(
        f"    {store.dialect}: submitted {result.submitted_per_s:,.0f}/s, "
        f"sequenced {result.per_s:,.0f}/s"
    )
    return result


# -- the report --------------------------------------------------------------------


def figures(result: ScaleResult) -> list[Figure]:
    pg = result.judged_postgres()
    lite = result.judged_sqlite()
    twin = result.twin
    by_dialect = {s.dialect: s for s in result.sequencing}
    runs = [p.run for p in result.postgres] + result.sqlite
    return [
        Figure(
            "events/s over HTTP, PostgreSQL, serve --workers 2",
            pg.run.events_per_s,
            TARGET_PG_EVENTS_S,
            "events/s",
            higher_is_better=True,
        ),
        Figure(
            "HTTP collection / plain COPY of the same rows, PostgreSQL, --workers 2",
            pg.ratio,
            TARGET_COPY_RATIO,
            "×",
            higher_is_better=True,
        ),
        Figure(
            "events/s over HTTP, SQLite, serve --workers 2",
            lite.events_per_s,
            TARGET_SQLITE_EVENTS_S,
            "events/s",
            higher_is_better=True,
        ),
        Figure(
            "ledger merge delay p99 at full collection load (PostgreSQL)",
            1000 * result.delay.at(0.99),
            TARGET_MERGE_DELAY_P99_MS,
            "ms",
            higher_is_better=False,
        ),
        *(
            Figure(
                f"ledger sequencing, pending records/s ({name})",
                by_dialect[dialect].per_s,
                TARGET_SEQUENCED_S,
                "records/s",
                higher_is_better=True,
            )
            for dialect, name in (("postgresql", "PostgreSQL"), ("sqlite", "SQLite"))
        ),
        Figure(
            "collection runs above (both databases, --workers 1 and 2): failed requests",
            sum(len(r.warm.errors) + len(r.load.errors) for r in runs),
            0,
            "requests",
            higher_is_better=False,
        ),
        Figure(
            "two servers, one PostgreSQL: acknowledged messages lost",
            twin.lost,
            0,
            "messages",
            higher_is_better=False,
        ),
        Figure(
            "two servers, one PostgreSQL: messages received or stored twice",
            twin.duplicated,
            0,
            "messages",
            higher_is_better=False,
        ),
        Figure(
            "two servers, one PostgreSQL: 5xx answers",
            twin.server_errors,
            0,
            "answers",
            higher_is_better=False,
        ),
        Figure(
            "two servers, one PostgreSQL: `ledger verify` failures",
            0 if twin.verified else 1,
            0,
            "failures",
            higher_is_better=False,
        ),
    ]


def _run_row(run: Collection, copy: CopyResult | None) -> tuple[str, ...]:
    load = run.load
    return (
        run.dialect,
        str(run.workers),
        f"{load.events:,} in {load.elapsed_s:.1f} s"
        + (" (bodies ran out)" if load.ran_out else ""),
        f"{len(run.load.errors)} of {run.load.requests:,}",
        f"{run.events_per_s:,.0f}",
        f"{run.latency_ms(0.5):.1f} / {run.latency_ms(0.99):.1f}",
        f"{copy.per_s:,.0f}" if copy else "",
        f"{run.events_per_s / copy.per_s:.3f}" if copy else "",
        f"{run.cpu.server_us:.0f}",
        (
            f"{run.cpu.database_us:.0f} / {run.cpu.sessions_us:.0f}"
            if run.dialect == "postgresql"
            else ""
        ),
    )


def _failures(result: ScaleResult) -> list[str]:
    """Requests that failed in the collection runs (timed or not): a finding to fix,
    shown with what the server logged, never hidden by the figures (which count only
    the events collected)."""
    runs = [p.run for p in result.postgres] + result.sqlite
    lines = []
    for run in runs:
        if not run.failures:
            continue
        seen = list(dict.fromkeys(run.failures))
        lines.append(
            f"- {run.dialect}, `--workers {run.workers}`: {len(run.warm.errors)} failed "
            f"requests in the warm-up, {len(run.load.errors)} in the timed run; first "
            "distinct: " + "; ".join(f"`{line}`" for line in seen[:4])
        )
    if not lines:
        return ["No request failed in the collection runs (warm-ups included).", ""]
    return ["Failed requests (not counted as collected):", "", *lines, ""]


def render(result: ScaleResult) -> list[str]:
    opts = result.options
    pg = result.judged_postgres()
    delay = result.delay
    twin = result.twin
    cpu = pg.run.cpu
    rows = [_run_row(p.run, p.copy) for p in result.postgres]
    rows += [_run_row(run, None) for run in result.sqlite]
    sequencing_rows = [
        (
            s.dialect,
            f"{s.records:,}",
            f"{s.submit_s:.2f} s ({s.submitted_per_s:,.0f}/s)",
            f"{s.flush_s:.2f} s",
            f"{s.per_s:,.0f}",
        )
        for s in result.sequencing
    ]
    statuses = ", ".join(f"{status}: {n:,}" for status, n in sorted(twin.statuses.items()))
    return [
        "## 14. Scale-out: serving processes, two servers, the sequencer",
        "",
        "Every server is `python -m trustable serve --workers N --no-worker` in a process "
        "of its own (`TRUSTABLE_LEDGER_INTERVAL` at its default, 1 s), driven by section "
        f"1's traffic ({opts.users:,} users) from {opts.clients} client threads with "
        "keep-alive connections, 100 events per request. On PostgreSQL the store is a "
        "pair of fresh schemas (data and keys) of the local server, dropped afterwards; "
        "`--workers 1` runs first and `--workers 2` (judged) second on the same store, "
        "so the judged run starts with the first run's rows in place. On SQLite each run "
        "has its own copy of one seeded store. Warm-up "
        f"{opts.warmup_s:.0f} s, timed {opts.duration_s:.0f} s.",
        "",
        "The COPY baseline: as many rows as the run received events, each a copy of an "
        "event row the run stored (same customers and sealed payloads, fresh message ids; "
        f"mean payload {pg.copy.mean_payload_bytes:.0f} bytes), loaded with one "
        "`COPY … FROM STDIN` (psycopg `cursor.copy`, text built before timing) in one "
        "transaction into a scratch table `LIKE events INCLUDING ALL` (same columns, "
        "defaults and indexes) of the same database, right after the run.",
        "",
        *table(
            (
                "database",
                "workers",
                "events timed",
                "failed requests",
                "events/s",
                "batch p50 / p99 ms",
                "COPY rows/s",
                "HTTP / COPY",
                "app CPU µs/event",
                "database CPU µs/event (all / own sessions)",
            ),
            rows,
        ),
        "",
        *_failures(result),
        "### Maximum merge delay at full load",
        "",
        f"From the judged PostgreSQL run: {delay.entries:,} ledger entries recorded in the "
        f"timed window, covered by {delay.heads:,} signed heads. Delay = `signed_at` of "
        "the first head whose size is above the entry's index − the entry's `at` (both "
        "read back from the store).",
        "",
        f"- p50 **{delay.at(0.5):.2f} s**, p99 **{delay.at(0.99):.2f} s**, max "
        f"{delay.max_s:.2f} s (interval 1 s)",
        "",
        "### Sequencing alone",
        "",
        f"{opts.sequenced:,} collection records submitted as pending (`ledger.submit`, "
        f"{opts.submit_unit:,} per committed unit of work, no customer named) into a fresh "
        "store, then `ledger.sequencer.flush(app)` timed by itself: batches of 10,000 "
        "records each given their indices and Merkle nodes in a unit of work of its own, "
        "then one head signed.",
        "",
        *table(("database", "records", "submitting", "flush", "sequenced/s"), sequencing_rows),
        "",
        "### Two servers on one PostgreSQL",
        "",
        f"Two `trustable serve` processes (one worker each) on one fresh pair of schemas "
        f"with {opts.twin_users:,} seeded users. {opts.twin_clients} clients each post "
        f"batches to one server and, at the same moment, the same body to the other: "
        f"{twin.batches:,} batches, {twin.messages:,} messages, each sent twice, in "
        f"{twin.seconds:.1f} s. Users are shared by all batches and 3% of messages come "
        "from new visitors, so both servers race to create the same customers and to "
        "store the same message ids. Then the store is counted.",
        "",
        f"- answers by status: {statuses}",
        f"- acknowledged messages: {twin.acknowledged:,}; without a receipt (lost): "
        f"**{twin.lost}**; received or stored more than once: **{twin.duplicated}**",
        f"- receipts {twin.receipts:,}, events stored {twin.events_stored:,} (the answers' "
        f"`stored` add up to {twin.reported_stored:,}), `collect` ledger entries "
        f"{twin.collect_entries:,}",
        f"- `ledger verify` afterwards: {'passes' if twin.verified else twin.problem}",
        "",
        "### CPU per collected event (for the capacity model)",
        "",
        "From the judged PostgreSQL run: CPU time (user + system, psutil) of the server's "
        f"processes ({cpu.server_processes}: `serve` and every process it started) and of "
        f"every `postgres` process on the machine ({cpu.database_processes}) over the "
        f"timed window, divided by the {cpu.stored:,} events stored in it "
        f"({cpu.received:,} received). The database side counts every `postgres` process, "
        "its shared writers (WAL, checkpoints) included: on a machine others use, their "
        "queries count too. So the server's own sessions are also counted alone (its "
        "processes' connections matched to `pg_stat_activity` by client port), which "
        "leaves out the shared writers.",
        "",
        f"- app **{cpu.server_us:.0f} µs** per stored event ({cpu.server_s:.1f} s CPU), "
        f"database **{cpu.database_us:.0f} µs** ({cpu.database_s:.1f} s CPU); the "
        f"server's {cpu.sessions} sessions alone {cpu.sessions_us:.0f} µs "
        f"({cpu.sessions_s:.1f} s CPU)",
        "",
    ]
