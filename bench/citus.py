"""Trustable on a Citus cluster, beside the single PostgreSQL it grows out of.

The cluster is started for the run with the workplace's tool (`tests.citus`: a
coordinator and two workers on loopback, each a PostgreSQL 15 with Citus of its own,
all on this machine's cores), and stopped after. The data store sits in fresh
schemas of the coordinator, migrated with `--partitions SHARDS` (the shard count:
per-customer tables distributed by `customer_id`, co-located); the key store sits on
the machine's single PostgreSQL, as keys never sit with the data. The baseline runs
the same on the single PostgreSQL alone. On two cores a cluster cannot be faster:
the figures are what distribution costs per event and per operation.

1. Collection over HTTP, single PostgreSQL then cluster: `trustable serve --workers 2
   --no-worker` driven by section 14's traffic and clients, each store seeded with
   the same users and consents; events/s, and CPU per stored event of the app and of
   each database server (on the cluster: the coordinator, each worker, and the key
   store's PostgreSQL apart), from `bench.fleet`.
2. Export and erasure latency (section 8's measurement, `bench.rights`): a store of
   `small` customers, `targets` of them with `events` track calls each, exported
   `rounds` times and erased, on the single PostgreSQL and on the cluster.
3. The rebalance: the cluster's store grown to `large` customers (identify calls
   through `ingest`), a third worker started and registered, then
   `citus_rebalance_start()` and `citus_rebalance_wait()` timed; the shards and bytes
   moved, and every table's row count the same before and after. Then exports and
   erasures again, on the three workers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import text
from tests.citus import Cluster, start_cluster, workers

from bench import rights
from bench.fleet import Collection, collect
from bench.reads import Target, build
from bench.report import Figure, table
from bench.traffic import Traffic, User, make_users
from bench.world import Store, postgres_store, seed
from trustable.bootstrap import Trustable

TARGET_REBALANCE_ROWS_CHANGED = 0
WORKERS = 2
WORKERS_AFTER = WORKERS + 1


@dataclass(frozen=True)
class CitusOptions:
    postgres_url: str  # the single PostgreSQL: the baseline, and the key stores
    shards: int
    users: int
    clients: int
    warmup_s: float
    duration_s: float
    small: int  # customers when export and erasure are first measured
    large: int  # customers stored when the worker joins
    targets: int  # customers exported, and erased at each size
    events: int  # track calls of each target
    rounds: int  # exports of each exported target per size
    seed: int


@dataclass(frozen=True)
class Rebalance:
    customers: int
    seconds: float  # citus_rebalance_start() until citus_rebalance_wait() returned
    add_s: float  # starting the worker and registering it
    shards_moved: int
    bytes_moved: int
    before: dict[str, int]  # rows of each distributed table before the move
    after: dict[str, int]
    placements: dict[int, int]  # shards on each worker port afterwards

    @property
    def rows_changed(self) -> int:
        return sum(abs(self.after.get(t, 0) - n) for t, n in self.before.items())


@dataclass(frozen=True)
class CitusResult:
    single: Collection
    cluster: Collection
    nodes: list[str]  # the cluster's data directories: the coordinator, then the workers
    keys_node: str  # the single PostgreSQL's data directory (the key store's)
    single_rights: rights.Size
    cluster_rights: rights.Size
    grown: rights.Size  # after the rebalance, on three workers
    rebalance: Rebalance
    options: CitusOptions


def measure(work: Path, opts: CitusOptions, progress: Callable[[str], None]) -> CitusResult:
    rng = random.Random(opts.seed)
    users = make_users(opts.users, rng)
    work.mkdir(parents=True, exist_ok=True)
    progress(f"  starting a Citus cluster: a coordinator and {WORKERS} workers")
    with start_cluster(WORKERS) as cluster:
        progress(f"  collection, single PostgreSQL: seeding {opts.users:,} users")
        with postgres_store(work / "pg", opts.postgres_url) as store:
            single = _collect(store, users, opts, work, progress)
        progress(f"  collection, cluster ({opts.shards} shards): seeding {opts.users:,} users")
        with postgres_store(
            work / "citus", cluster.url, keys_url=opts.postgres_url, partitions=opts.shards
        ) as store:
            on_cluster = _collect(store, users, opts, work, progress)
        nodes = [_data_directory(cluster.url), *map(_data_directory, workers(cluster.url))]
        keys_node = _data_directory(opts.postgres_url)

        progress(f"  export and erasure, single PostgreSQL: {opts.small:,} customers")
        with postgres_store(work / "pg-rights", opts.postgres_url) as store:
            exported, erased = _build(store, opts, 2, progress)
            single_rights = _rights(store, work, exported, erased, opts)
            _say(single_rights, progress)

        progress(f"  export and erasure, cluster: {opts.small:,} customers")
        with postgres_store(
            work / "citus-rights",
            cluster.url,
            keys_url=opts.postgres_url,
            partitions=opts.shards,
        ) as store:
            exported, erased_first, erased_later = _build(store, opts, 3, progress)
            cluster_rights = _rights(store, work, exported, erased_first, opts)
            _say(cluster_rights, progress)
            progress(f"  growing the cluster's store to {opts.large:,} customers")
            rights.grow(store, start=opts.small, end=opts.large, seed=opts.seed, progress=progress)
            moved = _rebalance(store, cluster, opts.large, progress)
            progress(f"  export and erasure again, on {WORKERS_AFTER} workers")
            grown = _rights(store, work, exported, erased_later, opts, customers=opts.large)
            _say(grown, progress)
    return CitusResult(
        single=single,
        cluster=on_cluster,
        nodes=nodes,
        keys_node=keys_node,
        single_rights=single_rights,
        cluster_rights=cluster_rights,
        grown=grown,
        rebalance=moved,
        options=opts,
    )


def _collect(
    store: Store,
    users: list[User],
    opts: CitusOptions,
    work: Path,
    progress: Callable[[str], None],
) -> Collection:
    rng = random.Random(opts.seed + 1)
    seeded = seed(store, users, rng)
    progress(
        f"    serve --workers 2: {opts.warmup_s:.0f} s warm-up, {opts.duration_s:.0f} s "
        f"timed, {opts.clients} clients"
    )
    app = store.open()
    try:
        run = collect(
            store,
            seeded.write_key,
            Traffic(users, rng),
            work / f"serve-{store.home.name}.log",
            workers=2,
            clients=opts.clients,
            warmup_s=opts.warmup_s,
            duration_s=opts.duration_s,
            app=app,
        )
    finally:
        app.close()
    progress(
        f"    {run.events_per_s:,.0f} events/s ({len(run.failures)} failed requests); "
        f"CPU per stored event: app {run.cpu.server_us:.0f} µs, databases "
        f"{run.cpu.database_us:.0f} µs"
    )
    if run.failures:
        progress(f"    first failure: {run.failures[0][:200]}")
    return run


def _data_directory(url: str) -> str:
    """Where a PostgreSQL server keeps its data: how `bench.fleet` tells apart the CPU
    of the servers (and the cluster's nodes) sharing this machine."""
    with psycopg.connect(url.replace("+psycopg", "", 1)) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    return str(row[0])


def _build(
    store: Store, opts: CitusOptions, groups: int, progress: Callable[[str], None]
) -> list[list[Target]]:
    """Section 8's store of `small` customers, its targets dealt into `groups` groups
    of `targets` (the exported, then the erased at each size)."""
    built = build(
        store,
        customers=opts.small,
        targets=groups * opts.targets,
        events=opts.events,
        seed=opts.seed,
        progress=progress,
    )
    return [built.targets[k::groups] for k in range(groups)]


def _rights(
    store: Store,
    work: Path,
    exported: list[Target],
    erased: list[Target],
    opts: CitusOptions,
    *,
    customers: int | None = None,
) -> rights.Size:
    return rights.measure_size(
        store,
        work / "rights-server.log",
        customers=customers or opts.small,
        exported=exported,
        erased=erased,
        rounds=opts.rounds,
        http_exports=0,
        events=opts.events,
        progress=lambda line: None,
    )


def _say(size: rights.Size, progress: Callable[[str], None]) -> None:
    progress(
        f"    {size.customers:,} customers: export p50 {size.export_ms(0.5):.1f} ms, p99 "
        f"{size.export_ms(0.99):.1f} ms; erasure p50 {size.erase_ms(0.5):.1f} ms, "
        f"p99 {size.erase_ms(0.99):.1f} ms"
    )


# -- the rebalance ------------------------------------------------------------------


def _row_counts(app: Trustable) -> dict[str, int]:
    """Rows of every distributed table of the store: what a move must not change."""
    with app.reader() as uow:
        conn = uow.connection
        names = conn.execute(
            text(
                "SELECT logicalrelid::regclass::text FROM pg_dist_partition "
                "WHERE partmethod = 'h' AND logicalrelid::regclass::text NOT LIKE '%.%'"
            )
        ).scalars()
        return {
            name: int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            for name in sorted(names)
        }


def _shards(app: Trustable) -> dict[int, tuple[int, int]]:
    """(shards, bytes) on each worker port, every schema's."""
    with app.reader() as uow:
        rows = uow.connection.execute(
            text(
                "SELECT nodeport, count(*), sum(shard_size) FROM citus_shards "
                "WHERE citus_table_type = 'distributed' GROUP BY nodeport"
            )
        ).all()
    return {int(port): (int(count), int(size or 0)) for port, count, size in rows}


def _rebalance(
    store: Store, cluster: Cluster, customers: int, progress: Callable[[str], None]
) -> Rebalance:
    app = store.open()
    try:
        before = _row_counts(app)
        progress(
            f"  a worker joins {customers:,} customers "
            f"({before.get('events', 0):,} events): starting it"
        )
        began = time.perf_counter()
        added = cluster.add_worker()
        add_s = time.perf_counter() - began
        port = int(added.rsplit(":", 1)[1].split("/", 1)[0])
        # Outside a transaction: the rebalance is a background job, and its wait would
        # never see one started inside a transaction still open.
        with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            began = time.perf_counter()
            conn.execute(text("SELECT citus_rebalance_start()"))
            conn.execute(text("SELECT citus_rebalance_wait()"))
            seconds = time.perf_counter() - began
        after = _row_counts(app)
        shards = _shards(app)
    finally:
        app.close()
    moved, size = shards.get(port, (0, 0))
    result = Rebalance(
        customers=customers,
        seconds=seconds,
        add_s=add_s,
        shards_moved=moved,
        bytes_moved=size,
        before=before,
        after=after,
        placements={p: n for p, (n, _) in sorted(shards.items())},
    )
    progress(
        f"    rebalanced in {seconds:.1f} s (worker started in {add_s:.1f} s): {moved} "
        f"shards, {size / 2**20:.1f} MiB moved; rows changed {result.rows_changed}"
    )
    return result


# -- the report ---------------------------------------------------------------------


def figures(result: CitusResult) -> list[Figure]:
    """Held to the targets the single store is held to (section 8), and to losing
    nothing; the collection figures are a cost, shown in the section, not judged."""
    events = result.options.events
    rows = [
        Figure(
            "cluster collection (serve --workers 2): failed requests",
            len(result.cluster.failures),
            0,
            "requests",
            higher_is_better=False,
        ),
    ]
    for label, size in (
        (f"cluster, {WORKERS} workers", result.cluster_rights),
        (f"cluster after the rebalance, {WORKERS_AFTER} workers", result.grown),
    ):
        customers = rights.size_label(size.customers)
        rows += [
            Figure(
                f"{label}: export p99 ({events:,} events, {customers} customers)",
                size.export_ms(0.99),
                rights.TARGET_EXPORT_P99_MS,
                "ms",
                higher_is_better=False,
            ),
            Figure(
                f"{label}: erasure p99 ({events:,} events, {customers} customers)",
                size.erase_ms(0.99),
                rights.TARGET_ERASE_P99_MS,
                "ms",
                higher_is_better=False,
            ),
        ]
    rows.append(
        Figure(
            "rebalance onto a new worker: rows lost or gained",
            result.rebalance.rows_changed,
            TARGET_REBALANCE_ROWS_CHANGED,
            "rows",
            higher_is_better=False,
        )
    )
    return rows


def _node_name(directory: str, result: CitusResult) -> str:
    if directory == result.keys_node:
        return "single PostgreSQL (keys)"
    if directory == result.nodes[0]:
        return "coordinator"
    if directory in result.nodes:
        return f"worker {result.nodes.index(directory)}"
    return "other postgres processes"


def _collection_rows(result: CitusResult) -> list[tuple[str, ...]]:
    rows = []
    for name, run in (("single PostgreSQL", result.single), ("Citus cluster", result.cluster)):
        if run is result.single:  # one server holds both stores
            by_node = [("single PostgreSQL", run.cpu.node_us(result.keys_node))]
        else:
            by_node = sorted(
                ((_node_name(d, result), run.cpu.node_us(d)) for d in run.cpu.by_node),
                key=lambda pair: pair[0],
            )
        rows.append(
            (
                name,
                f"{run.load.events:,} in {run.load.elapsed_s:.1f} s",
                f"{len(run.load.errors)} of {run.load.requests:,}",
                f"{run.events_per_s:,.0f}",
                f"{run.latency_ms(0.5):.1f} / {run.latency_ms(0.99):.1f}",
                f"{run.cpu.server_us:.0f}",
                f"{run.cpu.database_us:.0f}",
                "; ".join(f"{node} {us:.0f}" for node, us in by_node if us >= 2),
            )
        )
    return rows


def _rights_rows(result: CitusResult) -> list[tuple[str, ...]]:
    rows = []
    for name, size in (
        ("single PostgreSQL", result.single_rights),
        (f"cluster, {WORKERS} workers", result.cluster_rights),
        (f"cluster, {WORKERS_AFTER} workers, after the rebalance", result.grown),
    ):
        rows.append(
            (
                name,
                f"{size.customers:,}",
                f"{size.export_ms(0.5):.1f} / {size.export_ms(0.99):.1f}",
                f"{size.log_ms:.1f}",
                f"{size.erase_ms(0.5):.1f} / {size.erase_ms(0.99):.1f}",
            )
        )
    return rows


def render(result: CitusResult) -> list[str]:
    opts = result.options
    single, cluster = result.single, result.cluster
    moved = result.rebalance
    coordinator = cluster.cpu.node_us(result.nodes[0])
    worker_us = sum(cluster.cpu.node_us(d) for d in result.nodes[1:])
    return [
        "## 18. Citus: collection, rights and a rebalance on a cluster",
        "",
        f"A cluster started for the run with the workplace's tool: a coordinator and "
        f"{WORKERS} workers on loopback, each a PostgreSQL 15 with Citus of its own, all "
        "on this machine's cores beside the single PostgreSQL. The data store is a fresh "
        f"schema of the coordinator migrated with `--partitions {opts.shards}` (per-customer "
        "tables distributed by `customer_id` into that many shards, co-located); the key "
        "store a schema of the single PostgreSQL, on the cluster runs as on the baseline "
        "runs. On two cores a cluster cannot be faster than one PostgreSQL: these figures "
        "are what distribution costs.",
        "",
        "### Collection over HTTP",
        "",
        f"`trustable serve --workers 2 --no-worker`, {opts.clients} client threads, 100 "
        f"events per request, {opts.users:,} users seeded with their consents; warm-up "
        f"{opts.warmup_s:.0f} s, timed {opts.duration_s:.0f} s. CPU per stored event "
        "(µs), from every process's CPU time over the timed window: the app's processes, "
        "and every postgres process grouped by the server (node) it belongs to (the "
        "cluster stands idle beside the single PostgreSQL's run; its background "
        "processes count in the databases' column).",
        "",
        *table(
            (
                "store",
                "events",
                "failed requests",
                "events/s",
                "p50 / p99 ms",
                "app µs",
                "databases µs",
                "databases by node, µs",
            ),
            _collection_rows(result),
        ),
        "",
        f"Cluster / single: {cluster.events_per_s / single.events_per_s:.2f}× the events/s; "
        f"the coordinator spends {coordinator:.0f} µs per event and the workers "
        f"{worker_us:.0f} µs between them, against {single.cpu.database_us:.0f} µs of the "
        "single PostgreSQL (all its processes). The coordinator's share is what a bigger "
        "cluster does not spread: `docs/scale.md` sizes coordinators by it.",
        "",
        "### Export and erasure",
        "",
        f"Section 8's measurement (`bench.rights`): {opts.small:,} customers from one "
        f"identify call each, {opts.targets} customers exported {opts.rounds} times "
        f"and {opts.targets} erased, each holding {opts.events:,} track calls; in-process "
        "(`log_export` then `export_json` drained; `runner.process` of a verified erase "
        "request, its key destroyed in the key store), checked as there.",
        "",
        *table(
            ("store", "customers", "export p50 / p99 ms", "log_export ms", "erasure p50 / p99 ms"),
            _rights_rows(result),
        ),
        "",
        "### A worker joins",
        "",
        f"The cluster's store grown to {moved.customers:,} customers "
        f"({moved.before.get('events', 0):,} events), then one more worker started and "
        f"registered ({moved.add_s:.1f} s) and `citus_rebalance_start()` waited for: "
        f"**{moved.seconds:.1f} s**, {moved.shards_moved} shards "
        f"({moved.bytes_moved / 2**20:.1f} MiB; {len(moved.before)} co-located tables "
        f"of {opts.shards} shards each) moved onto it; shards per worker port "
        f"afterwards {moved.placements}. Rows of every distributed table before and after: "
        f"{moved.rows_changed} changed. Collection went on through such a move in "
        "`tests/storage/test_citus_rebalance.py` (nothing acknowledged lost, none stored "
        "twice, `ledger verify` passing).",
        "",
    ]
