"""`python -m bench` (`make bench`): measure, print, and write bench/RESULTS.md.

One run, in order: seed a store (write key, 5,000 users' consents), then
1. collection over HTTP against a server process on a copy of that store;
2. the in-process pipeline and plain inserts on another copy;
3. `Decisions.may` with 100,000 customers on a store of its own;
4. the ledger's cost inside collection: the in-process pipeline with and without
   `ledger.append`, alternating, on two more copies (see bench/ledger.py);
5. ledger proofs at 1,000,000 entries, on a log built in a store of its own;
6. purpose-bound reads over HTTP: a profile of 1,000 events, decrypted, with 100,000
   customers loaded, on a store of its own filled through `ingest`, judged on one
   client reading one profile after another (see bench/reads.py);
7. destination throughput: one delivery worker draining 20,000 queued deliveries to a
   receiver process on loopback (see bench/deliveries.py);
8. customers' rights: export and erasure of customers with 1,000 events, in one store
   measured with 10,000 customers and again grown to 100,000 (see bench/rights.py);
9. recommendations on MovieLens 100K (Trustable's model, most-popular and `implicit`'s
   ALS on one temporal split, then with 30% denying), forgetting a customer, and
   recommendations with their reasons read over HTTP from a store MovieLens was
   imported into (see bench/personalize.py);
10. breach response: an incident's affected customers over a ledger of 10^6 entries
   (see bench/incidents.py);
11. private aggregates on MovieLens 100K: DP counts at epsilon 1 beside the exact
   counts, over 50 draws (see bench/analytics.py);
12. re-identification risk on MovieLens 100K: people unique on (zip, age, gender) and
   the generalisation that brings every group to k >= 5 (see bench/risk.py);
13. segments' cost on ingest: the MovieLens 100K import with and without the example
   policy's `sci-fi-fans` segment, alternating (see bench/segments.py);
14. the soak: 10 minutes of collection over HTTP, the server's RSS at start, middle and
   end (BENCH_SOAK_SECONDS shortens it, 0 skips it; 20 s with --quick; see
   bench/soak.py, also `python -m bench.soak` alone).
Every figure is printed beside its target with PASS or MISS (and by how much), and
the whole report, with the machine it ran on, replaces bench/RESULTS.md. All state
lives in a temporary directory that is removed at the end, server included.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench import (
    analytics,
    decisions,
    deliveries,
    http_load,
    incidents,
    ledger,
    personalize,
    pipeline,
    reads,
    rights,
    risk,
    segments,
    soak,
)
from bench.report import Figure, Machine, figures_table, machine, table, write
from bench.traffic import NEW_VISITOR_SHARE, Traffic, make_users
from bench.world import Seeded, new_store, seed

HERE = Path(__file__).resolve().parent
BATCH = 100  # events per `/v1/batch` request and per pipeline unit of work

TARGET_HTTP_EVENTS_S = 10_000.0
TARGET_PIPELINE_SHARE = 25.0  # pipeline events/s as % of plain inserts
TARGET_MAY_P99_US = 20.0
TARGET_LEDGER_COST = 15.0  # % of in-process ingest throughput the ledger may take
TARGET_PROOF_MS = 5.0  # inclusion proof generation at 10^6 entries
TARGET_PROOF_HASHES = 20.0
LEDGER_CHUNK = 10_000  # entries per unit of work when building the big log
TARGET_READ_P99_MS = 25.0  # one profile read of 1,000 events over HTTP, one client
TARGET_DELIVERIES_S = 2_000.0  # one worker, to a receiver on loopback
DELIVERY_CUSTOMERS = 2_000  # who granted the destination's purpose (10 events each)


@dataclass(frozen=True)
class Options:
    users: int
    clients: int
    warmup_s: float
    duration_s: float
    pipeline_batches: int
    customers: int
    calls: int
    ledger_batches: int
    ledger_rounds: int
    ledger_entries: int
    proofs: int
    read_customers: int
    read_targets: int
    read_events: int
    read_requests: int
    read_sequential: int
    read_clients: int
    read_in_process: int
    deliveries: int
    deliveries_profiled: int
    rights_small: int
    rights_large: int
    rights_targets: int
    rights_events: int
    rights_rounds: int
    rights_http_exports: int
    seed: int
    output: Path


def options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=5_000, help="pool of users sending events")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--warmup", type=float, default=5.0, help="HTTP warm-up, seconds")
    parser.add_argument("--duration", type=float, default=30.0, help="timed HTTP load, seconds")
    parser.add_argument("--pipeline-batches", type=int, default=400, help="timed batches")
    parser.add_argument("--customers", type=int, default=100_000, help="for may()")
    parser.add_argument("--calls", type=int, default=300_000, help="timed may() calls")
    parser.add_argument(
        "--ledger-batches", type=int, default=600, help="timed batches per side, ledger on/off"
    )
    parser.add_argument(
        "--ledger-rounds", type=int, default=20, help="alternations of ledger on and off"
    )
    parser.add_argument(
        "--ledger-entries", type=int, default=1_000_000, help="log size for the proofs"
    )
    parser.add_argument("--proofs", type=int, default=2_000, help="timed inclusion proofs")
    parser.add_argument(
        "--read-customers", type=int, default=100_000, help="customers in the reads' store"
    )
    parser.add_argument("--read-targets", type=int, default=20, help="customers read")
    parser.add_argument("--read-events", type=int, default=1_000, help="events per target")
    parser.add_argument(
        "--read-requests",
        type=int,
        default=100,
        help="timed reads by --read-clients clients at once (not judged)",
    )
    parser.add_argument(
        "--read-sequential", type=int, default=300, help="timed reads by a lone client, judged"
    )
    parser.add_argument(
        "--read-clients", type=int, default=2, help="clients reading at once (not judged)"
    )
    parser.add_argument("--read-in-process", type=int, default=60, help="reads timed without HTTP")
    parser.add_argument(
        "--deliveries", type=int, default=20_000, help="queued deliveries drained, timed"
    )
    parser.add_argument(
        "--rights-customers-small", type=int, default=10_000, help="rights: first store size"
    )
    parser.add_argument(
        "--rights-customers-large", type=int, default=100_000, help="rights: second store size"
    )
    parser.add_argument(
        "--rights-targets",
        type=int,
        default=20,
        help="rights: customers exported, and erased at each size",
    )
    parser.add_argument(
        "--rights-events", type=int, default=1_000, help="rights: events per measured customer"
    )
    parser.add_argument(
        "--rights-rounds", type=int, default=3, help="rights: exports per exported customer"
    )
    parser.add_argument(
        "--rights-http-exports",
        type=int,
        default=5,
        help="rights: exports over HTTP per size (not judged)",
    )
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run (figures not comparable), written to bench/out/quick.md "
        "unless --output is given",
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="where to write the report (bench/RESULTS.md)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        return Options(
            users=500,
            clients=2,
            warmup_s=1.0,
            duration_s=3.0,
            pipeline_batches=20,
            customers=10_000,
            calls=20_000,
            ledger_batches=20,
            ledger_rounds=4,
            ledger_entries=50_000,
            proofs=200,
            read_customers=5_000,
            read_targets=4,
            read_events=1_000,
            read_requests=20,
            read_sequential=40,
            read_clients=2,
            read_in_process=10,
            deliveries=2_000,
            deliveries_profiled=300,
            rights_small=1_000,
            rights_large=5_000,
            rights_targets=4,
            rights_events=1_000,
            rights_rounds=3,
            rights_http_exports=2,
            seed=args.seed,
            output=args.output or HERE / "out" / "quick.md",
        )
    return Options(
        users=args.users,
        clients=args.clients,
        warmup_s=args.warmup,
        duration_s=args.duration,
        pipeline_batches=args.pipeline_batches,
        customers=args.customers,
        calls=args.calls,
        ledger_batches=args.ledger_batches,
        ledger_rounds=args.ledger_rounds,
        ledger_entries=args.ledger_entries,
        proofs=args.proofs,
        read_customers=args.read_customers,
        read_targets=args.read_targets,
        read_events=args.read_events,
        read_requests=args.read_requests,
        read_sequential=args.read_sequential,
        read_clients=args.read_clients,
        read_in_process=args.read_in_process,
        deliveries=args.deliveries,
        deliveries_profiled=1_000,
        rights_small=args.rights_customers_small,
        rights_large=args.rights_customers_large,
        rights_targets=args.rights_targets,
        rights_events=args.rights_events,
        rights_rounds=args.rights_rounds,
        rights_http_exports=args.rights_http_exports,
        seed=args.seed,
        output=args.output or HERE / "RESULTS.md",
    )


def say(text: str) -> None:
    print(text, flush=True)


@dataclass(frozen=True)
class HttpOutcome:
    warm: http_load.LoadResult
    load: http_load.LoadResult


def measure_http(seeded: Seeded, traffic: Traffic, opts: Options, tmp: Path) -> HttpOutcome:
    """Warm up, size the timed run from the warm-up's rate, then time it."""
    store = seeded.store.clone(tmp / "http")
    warmup_bodies = traffic.bodies(max(opts.clients * 4, 150), BATCH)
    with http_load.server_process(store, tmp / "server.log") as url:
        say(f"  server up at {url}; warming up for {opts.warmup_s:.0f} s")
        warm = http_load.drive(
            url,
            seeded.write_key,
            warmup_bodies,
            batch_size=BATCH,
            clients=opts.clients,
            duration_s=opts.warmup_s,
        )
        _check(warm, "warm-up")
        # Enough bodies for 1.5x the warm-up's rate: running out would end the run early.
        needed = math.ceil(warm.events_per_s * opts.duration_s * 1.5 / BATCH) + 4 * opts.clients
        say(f"  warm-up: {warm.events_per_s:,.0f} events/s; building {needed:,} request bodies")
        bodies = traffic.bodies(needed, BATCH)
        say(f"  timing {opts.duration_s:.0f} s with {opts.clients} clients")
        load = http_load.drive(
            url,
            seeded.write_key,
            bodies,
            batch_size=BATCH,
            clients=opts.clients,
            duration_s=opts.duration_s,
        )
        _check(load, "timed run")
    return HttpOutcome(warm, load)


def _check(result: http_load.LoadResult, what: str) -> None:
    if result.errors:
        raise RuntimeError(
            f"{what}: {len(result.errors)} of {result.requests} requests failed; first: "
            f"{result.errors[0]}"
        )


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str]) -> int:
    opts = options(argv)
    started = time.perf_counter()
    box = machine(datetime.now().astimezone())
    say(f"Trustable bench on {box.cpu}, nproc {box.nproc}, {box.python}")
    rng = random.Random(opts.seed)
    users = make_users(opts.users, rng)
    traffic = Traffic(users, rng)
    with tempfile.TemporaryDirectory(prefix="trustable-bench-") as tmp_name:
        tmp = Path(tmp_name)
        say(f"seeding: {opts.users:,} users, a write key and their consents")
        seeded = seed(new_store(tmp / "seed"), users, rng)

        say("1. collection over HTTP (POST /v1/batch, 100 events per request)")
        http = measure_http(seeded, traffic, opts, tmp)
        say(f"  {http.load.events_per_s:,.0f} events/s")

        say("2. in-process pipeline vs plain inserts")
        app = seeded.store.clone(tmp / "pipeline").open()
        try:
            pipe = pipeline.measure(
                app,
                traffic,
                batches=opts.pipeline_batches,
                warmup=max(10, opts.pipeline_batches // 20),
                size=BATCH,
                seed=opts.seed,
            )
        finally:
            app.close()
        say(
            f"  pipeline {pipe.pipeline_per_s:,.0f} events/s, plain {pipe.plain_per_s:,.0f}/s "
            f"(event rows alone {pipe.events_only_per_s:,.0f}/s)"
        )

        say(f"3. may() with {opts.customers:,} customers loaded")
        app = new_store(tmp / "decisions").open()
        try:
            may = decisions.measure(app, customers=opts.customers, calls=opts.calls, seed=opts.seed)
        finally:
            app.close()
        say(f"  p50 {may.all_calls.p50_us:.2f} µs, p99 {may.all_calls.p99_us:.2f} µs")

        say(
            f"4. ledger cost inside collection ({opts.ledger_batches * BATCH:,} events each "
            f"with and without the ledger, {opts.ledger_rounds} alternating rounds)"
        )
        cost = ledger.measure_cost(
            seeded.store.clone(tmp / "ledger-on"),
            seeded.store.clone(tmp / "ledger-off"),
            traffic,
            batches=opts.ledger_batches,
            warmup=max(10, opts.ledger_batches // 20),
            rounds=opts.ledger_rounds,
            size=BATCH,
        )
        say(
            f"  with {cost.with_per_s:,.0f} events/s, without {cost.without_per_s:,.0f} "
            f"events/s: the ledger costs {cost.cost:.1%}; {cost.entries_per_s:,.0f} "
            f"appends/s in ingest ({cost.append_entries_per_s:,.0f}/s inside append)"
        )

        say(f"5. ledger proofs: building a log of {opts.ledger_entries:,} entries")
        proofs = ledger.measure_proofs(
            new_store(tmp / "ledger-proofs"),
            entries=opts.ledger_entries,
            chunk=LEDGER_CHUNK,
            proofs=opts.proofs,
            seed=opts.seed,
            progress=say,
        )
        timings = proofs.timings
        say(
            f"  built in {proofs.build_s:.1f} s ({proofs.build_per_s:,.0f} appends/s); "
            f"inclusion proof p50 {timings.inclusion.p50_ms:.2f} ms, p99 "
            f"{timings.inclusion.p99_ms:.2f} ms, {timings.inclusion_hashes_max} hashes at most"
        )

        say(
            f"6. reads over HTTP: {opts.read_customers:,} customers, {opts.read_targets} "
            f"of them with {opts.read_events:,} events"
        )
        read = reads.measure(
            new_store(tmp / "reads"),
            tmp,
            customers=opts.read_customers,
            targets=opts.read_targets,
            events=opts.read_events,
            requests=opts.read_requests,
            sequential=opts.read_sequential,
            clients=opts.read_clients,
            in_process_reads=opts.read_in_process,
            seed=opts.seed,
            progress=say,
        )
        judged, together = read.http.sequential, read.http.concurrent
        say(
            f"  1 client (judged): p50 {judged.ms(0.5):.1f} ms, p99 {judged.ms(0.99):.1f} ms; "
            f"{together.clients} clients at once: p50 {together.ms(0.5):.1f} ms, p99 "
            f"{together.ms(0.99):.1f} ms; in-process read p50 {read.in_process.read_ms:.1f} ms"
        )

        say(f"7. destination throughput: one worker draining {opts.deliveries:,} deliveries")
        sent = deliveries.measure(
            tmp / "deliveries",
            tmp,
            customers=min(DELIVERY_CUSTOMERS, opts.deliveries),
            deliveries=opts.deliveries,
            profiled=opts.deliveries_profiled,
            progress=say,
        )
        say(
            f"  {sent.per_s:,.0f} deliveries/s ({sent.delivered:,} in {sent.elapsed_s:.1f} s); "
            f"Sender posts alone, one thread {sent.http_only_per_s:,.0f}/s"
        )

        say(
            f"8. customers' rights: export and erasure with {opts.rights_small:,} and then "
            f"{opts.rights_large:,} customers, {opts.rights_targets} measured customers "
            f"of each kind with {opts.rights_events:,} events"
        )
        rights_result = rights.measure(
            new_store(tmp / "rights"),
            tmp,
            small=opts.rights_small,
            large=opts.rights_large,
            targets=opts.rights_targets,
            events=opts.rights_events,
            rounds=opts.rights_rounds,
            http_exports=opts.rights_http_exports,
            seed=opts.seed,
            progress=say,
        )
        say(
            f"  export p50 ratio {rights_result.export_ratio:.2f}×, erasure p50 ratio "
            f"{rights_result.erase_ratio:.2f}×"
        )

        say("9. recommendations on MovieLens 100K, and forgetting")
        recs = personalize.measure(seed=opts.seed, work=tmp / "personalize", progress=say)
        say(
            f"  NDCG@10: Trustable {recs.everyone.ours.ndcg:.4f}, most-popular "
            f"{recs.everyone.popular.ndcg:.4f}, ALS {recs.everyone.als.ndcg:.4f}; "
            f"forgetting p99 {recs.forgetting.p99_ms:.2f} ms"
        )
        if recs.http is not None:
            say(
                f"  over HTTP (import {recs.http.import_s:.0f} s): consenting p99 "
                f"{recs.http.consenting.ms(0.99):.2f} ms, denying p99 "
                f"{recs.http.denying_reads.ms(0.99):.2f} ms"
            )

        say(f"10. breach response: affected set over {opts.ledger_entries:,} ledger entries")
        breach = incidents.measure(
            new_store(tmp / "incidents"),
            entries=opts.ledger_entries,
            customers=max(1_000, opts.ledger_entries // 10),
            seed=opts.seed,
            progress=say,
        )
        say(
            f"  data store {breach.data_store.seconds:.2f} s ({breach.data_store.people:,} "
            f"customers), destination {breach.destination.seconds:.2f} s"
        )

        say("11. private aggregates on MovieLens 100K")
        aggregates = analytics.measure(progress=say)
        say(
            f"  DP count error at ε = 1 on groups ≥ 1,000: median "
            f"{100 * analytics.median_error(aggregates):.2f}%"
        )

        say("12. re-identification risk on MovieLens 100K")
        exposure = risk.measure()
        say(
            f"  {exposure.before.unique} of {exposure.before.records} unique; k = "
            f"{exposure.plain.after.k} after generalisation ({exposure.seconds * 1000:.0f} ms)"
        )

        say("13. segments' cost on the MovieLens 100K import")
        grouped = segments.measure(tmp / "segments", progress=say)
        say(f"  with / without segments: {grouped.ratio:.3f}×")

        soak_s = soak.seconds_from_env(20.0 if "--quick" in argv else soak.SOAK_SECONDS)
        soaked = None
        if soak_s > 0:
            say(f"14. soak: {soak_s:.0f} s of collection over HTTP, the server's RSS")
            soaked = soak.measure(tmp / "soak", seconds=soak_s, progress=say)
            for line in soaked.lines():
                say(f"  {line}")

    figures = [
        Figure(
            "events/s over HTTP (POST /v1/batch)",
            http.load.events_per_s,
            TARGET_HTTP_EVENTS_S,
            "events/s",
            higher_is_better=True,
        ),
        Figure(
            "in-process pipeline / plain inserts",
            100 * pipe.ratio,
            TARGET_PIPELINE_SHARE,
            "%",
            higher_is_better=True,
        ),
        Figure(
            f"may() p99 latency ({opts.customers // 1000}k customers)",
            may.all_calls.p99_us,
            TARGET_MAY_P99_US,
            "µs",
            higher_is_better=False,
        ),
        Figure(
            "ledger cost: ingest throughput lost",
            100 * cost.cost,
            TARGET_LEDGER_COST,
            "%",
            higher_is_better=False,
        ),
        Figure(
            f"inclusion proof p50 ({entries_label(proofs.size)} entries)",
            timings.inclusion.p50_ms,
            TARGET_PROOF_MS,
            "ms",
            higher_is_better=False,
        ),
        Figure(
            f"inclusion proof p99 ({entries_label(proofs.size)} entries)",
            timings.inclusion.p99_ms,
            TARGET_PROOF_MS,
            "ms",
            higher_is_better=False,
        ),
        Figure(
            f"hashes per inclusion proof, max ({entries_label(proofs.size)})",
            timings.inclusion_hashes_max,
            TARGET_PROOF_HASHES,
            "hashes",
            higher_is_better=False,
        ),
        *read_figures(read, opts),
        Figure(
            "destination deliveries/s, one worker (receiver on loopback)",
            sent.per_s,
            TARGET_DELIVERIES_S,
            "deliveries/s",
            higher_is_better=True,
        ),
        *rights.figures(rights_result),
        *personalize.figures(recs),
        *incidents.figures(breach),
        *analytics.figures(aggregates),
        *risk.figures(exposure),
        *segments.figures(grouped),
        *(soak.figures(soaked) if soaked is not None else []),
    ]
    elapsed = time.perf_counter() - started
    lines = render(box, opts, figures, seeded, http, pipe, may, cost, proofs, read, elapsed)
    lines += reads.render(read, nproc=box.nproc)
    lines += deliveries.render(sent, TARGET_DELIVERIES_S)
    lines += rights.render(rights_result)
    lines += personalize.render(recs)
    lines += incidents.render(breach)
    lines += analytics.render(aggregates)
    lines += risk.render(exposure)
    lines += segments.render(grouped)
    if soaked is not None:
        lines += soak.render(soaked)
    say("")
    for line in figures_table(figures):
        say(line)
    write(opts.output, lines)
    say(f"\nwritten to {opts.output} ({elapsed:.0f} s in all)")
    # A miss is a finding, not a failure of the run: the exit status says only whether
    # everything could be measured.
    return 0


def render(
    box: Machine,
    opts: Options,
    figures: list[Figure],
    seeded: Seeded,
    http: HttpOutcome,
    pipe: pipeline.PipelineResult,
    may: decisions.DecisionsResult,
    cost: ledger.CostResult,
    proofs: ledger.ProofResult,
    read: reads.ReadsResult,
    elapsed_s: float,
) -> list[str]:
    load = http.load
    together = read.http.concurrent
    ms = [t * 1000 for t in load.latencies_s]
    consents = ", ".join(f"{n:,} {k}" for k, n in sorted(seeded.consents.items()))
    percentile_rows = [
        (
            name,
            f"{p.count:,}",
            f"{p.p50_us:.2f}",
            f"{p.p99_us:.2f}",
            f"{p.p999_us:.2f}",
            f"{p.max_us:.1f}",
        )
        for name, p in (
            ("all calls", may.all_calls),
            ("first call for a customer", may.first_calls),
            ("repeat calls", may.repeat_calls),
        )
    ]
    return [
        "# Trustable benchmark results",
        "",
        f"Written by `make bench` (`python -m bench`) on {box.when:%Y-%m-%d at %H:%M %Z}, "
        f"in {elapsed_s:.0f} s. Every run replaces this file; the code is in `bench/`.",
        "",
        "## Machine",
        "",
        *table(("what", "value"), box.rows()),
        "",
        "## Figures",
        "",
        *figures_table(figures),
        "",
        "Not judged: profile reads by "
        f"{together.clients} clients at once, p50 {together.ms(0.5):.2f} ms and p99 "
        f"{together.ms(0.99):.2f} ms. The target is the latency of one read, so the "
        "reads are judged on one client; with several at once, the one server process and "
        f"the clients share the machine's {box.nproc} cores (see section 6).",
        "",
        "## 1. Collection over HTTP",
        "",
        "`POST /v1/batch` with 100 events per request, write key as HTTP Basic user, through "
        "the whole pipeline (authentication, parsing, identity, consent, minimization, "
        "encryption, storage) on SQLite. The server is `create_app(bootstrap(settings))` "
        "under uvicorn (uvloop, httptools) in a process of its own, one worker, as "
        f"`trustable serve` runs it; {opts.clients} client threads with keep-alive "
        "`httpx` clients in the benchmark's process post bodies built before timing.",
        "",
        f"- traffic: {opts.users:,} users; 10% identify, 30% page, 60% track (product views, "
        f"ratings, searches, orders); {NEW_VISITOR_SHARE:.0%} from new anonymous visitors; "
        "traits and properties in the tracking plan plus some that are not",
        f"- consents granted beforehand: {consents}",
        f"- warm-up: {http.warm.requests:,} requests in {http.warm.elapsed_s:.1f} s "
        f"({http.warm.events_per_s:,.0f} events/s), not counted",
        f"- timed: {load.requests:,} requests, {load.events:,} events in {load.elapsed_s:.1f} s"
        + (" (the prepared bodies ran out before the time was up)" if load.ran_out else ""),
        f"- **{load.events_per_s:,.0f} events/s**; batch latency p50 "
        f"{quantile(ms, 0.5):.1f} ms, p90 {quantile(ms, 0.9):.1f} ms, p99 "
        f"{quantile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms",
        f"- stored {load.stored:,} events of {load.events:,} (an event keeping no field is "
        "not stored); "
        f"{load.fields_kept:,} fields kept, {load.fields_dropped:,} dropped "
        "(not in the plan or not permitted); errors: 0",
        "",
        "## 2. In-process pipeline vs plain inserts",
        "",
        "`events.service.ingest` on messages parsed beforehand, one committed unit of work "
        "per 100-event batch, next to plain inserts of the same rows with no checks: for "
        "each message, an event row copied from what the pipeline stored (same customers "
        "and sealed payloads, new message ids) and its receipt row (`received_messages`, "
        "which every collected message leaves), into the same database with SQLAlchemy "
        "Core executemany, one transaction per 100 messages. The ratio against event rows "
        "alone (no receipts) is given too; the target is judged on the first.",
        "",
        f"- pipeline: {pipe.events:,} events in {pipe.pipeline_s:.2f} s = "
        f"**{pipe.pipeline_per_s:,.0f} events/s** ({pipe.stored:,} stored, "
        f"{pipe.fields_kept:,} fields kept, {pipe.fields_dropped:,} dropped, "
        f"{pipe.customers_created:,} customers created)",
        f"- plain inserts: {pipe.plain_rows:,} messages' rows (mean payload "
        f"{pipe.mean_payload_bytes:.0f} bytes) in {pipe.plain_s:.2f} s = "
        f"**{pipe.plain_per_s:,.0f} messages/s**",
        f"- ratio pipeline / plain: **{pipe.ratio:.1%}**",
        f"- event rows alone: {pipe.events_only_per_s:,.0f} rows/s; ratio pipeline / event "
        f"rows alone: {pipe.events_only_ratio:.1%}",
        "",
        "## 3. `may()` latency",
        "",
        f"{may.customers:,} customers with {may.state_rows:,} consent states (written in bulk "
        "into `consent_state`), loaded with `load_states` into one `Decisions` in "
        f"{may.load_s:.2f} s; then {opts.calls:,} calls `may(customer, purpose, category)` "
        "with random customers, purposes and categories, each timed alone with "
        f"`time.perf_counter_ns`. The timer and call overhead, measured the same way on an "
        f"empty function of the same arguments (median {may.overhead_ns:.0f} ns), is "
        f"subtracted from every sample. {may.yes_share:.0%} of the answers were yes.",
        "",
        *table(("calls", "count", "p50 µs", "p99 µs", "p99.9 µs", "max µs"), percentile_rows),
        "",
        *render_ledger(cost, proofs),
    ]


def read_figures(read: reads.ReadsResult, opts: Options) -> list[Figure]:
    """The lone client's p50 and p99, both held to the p99 target (a median over it
    would miss it for certain). The target is the latency of one read, which a lone
    client sees: with several at once, reads also wait for each other and for the
    clients' own work on the same cores, so that run is shown, not judged."""
    judged = read.http.sequential
    what = (
        f"{opts.read_events:,} events, {opts.read_customers // 1000}k customers, "
        f"{judged.clients} client{'' if judged.clients == 1 else 's'}"
    )
    return [
        Figure(
            f"profile read p{int(100 * q)} over HTTP ({what})",
            judged.ms(q),
            TARGET_READ_P99_MS,
            "ms",
            higher_is_better=False,
        )
        for q in (0.5, 0.99)
    ]


def entries_label(count: int) -> str:
    """`10^6` for the standard run, the plain number for any other (a quick run)."""
    return "10^6" if count == 1_000_000 else f"{count:,}"


def render_ledger(cost: ledger.CostResult, proofs: ledger.ProofResult) -> list[str]:
    """Sections 4 and 5: what a reader needs to judge the ledger's figures."""
    meter = cost.meter
    spread = sorted(cost.round_costs)
    t = proofs.timings

    def ms(timing: ledger.Timing, digits: int = 2) -> tuple[str, str, str, str]:
        return (
            f"{timing.count:,}",
            f"{timing.p50_ms:.{digits}f}",
            f"{timing.p99_ms:.{digits}f}",
            f"{timing.max_ms:.{digits}f}",
        )

    proof_rows = [
        ("inclusion proof, generated", *ms(t.inclusion), f"{t.inclusion_hashes_max}"),
        (
            "inclusion proof, in a reader unit of work of its own",
            *ms(t.inclusion_own_uow),
            f"{t.inclusion_hashes_max}",
        ),
        ("inclusion proof, verified (`merkle.verify_inclusion`)", *ms(t.inclusion_verify, 4), ""),
        ("consistency proof, generated", *ms(t.consistency), f"{t.consistency_hashes_max}"),
        (
            "consistency proof, verified (`merkle.verify_consistency`)",
            *ms(t.consistency_verify, 4),
            "",
        ),
        ("signed head, Ed25519 signature verified", *ms(t.head_verify, 4), ""),
    ]
    label = entries_label(proofs.size)
    return [
        "## 4. The ledger's cost inside collection",
        "",
        "`events.service.ingest` appends one ledger entry per collected message "
        "(`ledger.append`, last in its unit of work). The same parsed batches (100 events, "
        "one committed unit of work each) are ingested into two fresh copies of the seeded "
        "store, one with the ledger and one without, in alternating rounds (with then "
        "without, then without then with, …) so drift falls on both sides alike. "
        '**"Without" is a benchmark-only switch**: for those rounds '
        "`trustable.ledger.service.append` is replaced by a no-op returning `[]` and "
        "restored right after (the ledger of that copy is checked not to have grown). "
        "`ingest` still builds its ledger `Record`s on both sides, so the cost measured is "
        "`append` and the extra rows it commits. With the ledger, `append` is wrapped by a "
        "timer (two clock reads per batch), which gives the time spent inside it.",
        "",
        f"- with the ledger: {cost.events:,} events in {cost.with_s:.2f} s = "
        f"**{cost.with_per_s:,.0f} events/s**",
        f"- without the ledger: {cost.events:,} events in {cost.without_s:.2f} s = "
        f"**{cost.without_per_s:,.0f} events/s**",
        f"- cost of transparency, 1 − with / without: **{cost.cost:.1%}** of ingest "
        f"throughput; per round ({cost.rounds} rounds) median "
        f"{spread[len(spread) // 2]:.1%}, from {spread[0]:.1%} to {spread[-1]:.1%}",
        f"- ledger appends: {meter.entries:,} entries in {meter.calls:,} calls (log grew "
        f"from {cost.log_before:,} to {cost.log_after:,}): **{cost.entries_per_s:,.0f} "
        f"appends/s** at the pipeline's pace; {meter.seconds:.2f} s inside `append` = "
        f"{cost.append_entries_per_s:,.0f} entries/s, {cost.append_share:.1%} of ingest "
        f"time ({1000 * meter.seconds / meter.calls:.2f} ms per 100-message batch)",
        "",
        f"## 5. Ledger proofs at {proofs.size:,} entries",
        "",
        f"A log of {proofs.size:,} entries built in a fresh SQLite store through "
        f"`ledger.append` itself, {proofs.chunk:,} records per committed unit of work (kind "
        "`collect`, no customer, a small detail), then one head signed. Proofs are for "
        "random indices (and random earlier sizes for consistency) against that signed "
        "head, generated in one reader unit of work after 50 untimed ones, each timed "
        "alone; every proof is checked against the signed root.",
        "",
        f"- build: {proofs.build_s:.1f} s appending and committing (making the records "
        f"not counted) = **{proofs.build_per_s:,.0f} appends/s**; head signed in "
        f"{1000 * proofs.sign_s:.1f} ms; database with its WAL "
        f"{proofs.db_mib:,.0f} MiB",
        f"- inclusion proofs: {t.inclusion_hashes_max} hashes at most, "
        f"{t.inclusion_hashes_mean:.2f} on average (⌈log2 {label}⌉ = "
        f"{(proofs.size - 1).bit_length()})",
        "",
        *table(("what", "count", "p50 ms", "p99 ms", "max ms", "hashes (max)"), proof_rows),
        "",
    ]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
