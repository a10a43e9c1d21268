"""`python -m bench.hotspots`: where collection spends its time (cProfile).

Not part of `make bench` (a profiler slows what it watches, so its numbers are not
figures). It profiles, on a seeded store of its own:
1. the in-process pipeline, `ingest` over a few thousand events;
2. the HTTP path, with the server process profiling itself (its event-loop thread,
   and each thread-pool worker running the collection work), under the same load;
3. the ledger: `ledger.append` inside `ingest` (what it calls, and its share), and
   inclusion proofs on a log of 1,000,000 entries built as `make bench` builds it;
4. one purpose-bound read (`access.reads.read_profile` of 1,000 events, in its unit of
   work) on a store filled as `make bench` fills it (bench/reads.py).
Reports (top functions by own time and by cumulative time, all code and Trustable's
alone) are written to bench/out/ and their paths printed. `--parts` picks some.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import tempfile
from pathlib import Path

from bench import http_load, ledger, pipeline, reads
from bench.traffic import Traffic, make_users
from bench.world import Seeded, new_store, seed
from trustable.access.reads import purpose_for
from trustable.access.service import ApiKey
from trustable.ledger import service as ledger_service

OUT = Path(__file__).resolve().parent / "out"
BATCH = 100


def report(stats: pstats.Stats, title: str, top: int) -> str:
    """Top functions by own time and cumulative time, everything and Trustable's code."""
    parts = [f"# {title}\n"]
    for order, restriction, label in (
        ("tottime", (), "all code, by own time"),
        ("cumulative", (), "all code, by cumulative time"),
        ("tottime", ("src/trustable",), "Trustable's code, by own time"),
        ("cumulative", ("src/trustable",), "Trustable's code, by cumulative time"),
    ):
        buffer = io.StringIO()
        stats.stream = buffer  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(*restriction, top)
        parts.append(f"## {label}\n{buffer.getvalue()}")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotspots", description=__doc__)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--batches", type=int, default=50, help="pipeline batches profiled")
    parser.add_argument("--duration", type=float, default=15.0, help="HTTP load, seconds")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--ledger-entries", type=int, default=1_000_000, help="log for proofs")
    parser.add_argument("--read-customers", type=int, default=100_000, help="for the read")
    parser.add_argument("--reads", type=int, default=1, help="reads profiled (after warm ones)")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("pipeline", "server", "ledger", "reads"),
        default=["pipeline", "server", "ledger", "reads"],
    )
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    rng = random.Random(7)
    traffic = Traffic(make_users(args.users, rng), rng)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="trustable-hotspots-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"seeding {args.users:,} users", flush=True)
        seeded = seed(new_store(tmp / "seed"), traffic.users, rng)
        if "pipeline" in args.parts:
            written.append(profile_pipeline(seeded, traffic, tmp, args.batches, args.top))
        if "server" in args.parts:
            written.append(profile_server(seeded, traffic, tmp, args.duration, args.top))
        if "ledger" in args.parts:
            written.append(
                profile_ledger(seeded, traffic, tmp, args.batches, args.ledger_entries, args.top)
            )
        if "reads" in args.parts:
            written.append(profile_read(tmp, args.read_customers, args.reads, args.top))
    print(f"written: {', '.join(str(p) for p in written)} (and .prof files)")
    return 0


def profile_pipeline(seeded: Seeded, traffic: Traffic, tmp: Path, batches: int, top: int) -> Path:
    print(f"profiling ingest over {batches * BATCH:,} events", flush=True)
    app = seeded.store.clone(tmp / "pipeline").open()
    try:
        now = app.clock()
        pipeline.run_ingest(app, pipeline.parsed_batches(traffic, 10, BATCH, now))
        timed = pipeline.parsed_batches(traffic, batches, BATCH, now)
        profile = cProfile.Profile()
        profile.enable()
        pipeline.run_ingest(app, timed)
        profile.disable()
    finally:
        app.close()
    profile.dump_stats(OUT / "pipeline.prof")
    text = report(pstats.Stats(profile), "ingest, in process", top)
    (OUT / "pipeline.txt").write_text(text, encoding="utf-8")
    return OUT / "pipeline.txt"


def profile_server(seeded: Seeded, traffic: Traffic, tmp: Path, duration: float, top: int) -> Path:
    print(f"profiling the server under {duration:.0f} s of load", flush=True)
    profiles = tmp / "profiles"
    store = seeded.store.clone(tmp / "http")
    with http_load.server_process(store, tmp / "server.log", profile_dir=profiles) as url:
        warm = traffic.bodies(40, BATCH)
        http_load.drive(url, seeded.write_key, warm, batch_size=BATCH, clients=4, duration_s=3)
        bodies = traffic.bodies(int(duration * 60), BATCH)
        load = http_load.drive(
            url,
            seeded.write_key,
            bodies,
            batch_size=BATCH,
            clients=4,
            duration_s=duration,
        )
    print(f"  {load.events_per_s:,.0f} events/s under the profiler", flush=True)
    loop = pstats.Stats(str(profiles / "server-loop.prof"))
    workers = pstats.Stats(*(str(p) for p in sorted(profiles.glob("server-worker-*.prof"))))
    for name in ("server-loop.prof", "server-workers.prof"):
        target = OUT / name
        (loop if name == "server-loop.prof" else workers).dump_stats(target)
    text = "\n".join(
        [
            report(loop, "HTTP server: event-loop thread", top),
            report(workers, "HTTP server: thread-pool workers (_collect)", top),
        ]
    )
    (OUT / "server.txt").write_text(text, encoding="utf-8")
    return OUT / "server.txt"


def ledger_report(stats: pstats.Stats, title: str, top: int, focus: str) -> str:
    """The ledger's own functions, and what `focus` (a function name) calls, so the
    cost of each statement and hash inside it is visible."""
    parts = [report(stats, title, top)]
    for label, printer in (
        ("the ledger's code, by cumulative time", None),
        (f"what {focus} calls", stats.print_callees),
    ):
        buffer = io.StringIO()
        stats.stream = buffer  # type: ignore[attr-defined]
        if printer is None:
            stats.sort_stats("cumulative").print_stats("trustable/ledger", top)
        else:
            printer(rf"ledger/service.py:\d+\({focus}\)")
        parts.append(f"## {label}\n{buffer.getvalue()}")
    return "\n".join(parts)


def profile_ledger(
    seeded: Seeded, traffic: Traffic, tmp: Path, batches: int, entries: int, top: int
) -> Path:
    """`ledger.append` as `ingest` calls it, then proofs at `entries` entries."""
    print(f"profiling ledger.append inside ingest over {batches * BATCH:,} events", flush=True)
    app = seeded.store.clone(tmp / "ledger").open()
    try:
        now = app.clock()
        pipeline.run_ingest(app, pipeline.parsed_batches(traffic, 10, BATCH, now))
        timed = pipeline.parsed_batches(traffic, batches, BATCH, now)
        appending = cProfile.Profile()
        appending.enable()
        pipeline.run_ingest(app, timed)
        appending.disable()
    finally:
        app.close()
    appending.dump_stats(OUT / "ledger-append.prof")

    print(f"building a log of {entries:,} entries to profile proofs", flush=True)
    app = new_store(tmp / "ledger-proofs").open()
    try:
        ledger.build_log(app, entries=entries, chunk=10_000, progress=print)
        proving = cProfile.Profile()
        picker = random.Random(11)
        with app.reader() as uow:
            size = ledger_service.tree_size(uow)
            for _ in range(50):
                ledger_service.inclusion_proof(uow, picker.randrange(size), size)
            proving.enable()
            for _ in range(1_000):
                ledger_service.inclusion_proof(uow, picker.randrange(size), size)
            proving.disable()
    finally:
        app.close()
    proving.dump_stats(OUT / "ledger-proofs.prof")
    text = "\n".join(
        [
            ledger_report(pstats.Stats(appending), "ingest, with ledger.append", top, "append"),
            ledger_report(
                pstats.Stats(proving),
                f"1,000 inclusion proofs at {entries:,} entries",
                top,
                "_nodes",
            ),
        ]
    )
    (OUT / "ledger.txt").write_text(text, encoding="utf-8")
    return OUT / "ledger.txt"


def profile_read(tmp: Path, customers: int, count: int, top: int) -> Path:
    """`read_profile` as the route runs it (a committed unit of work), after one warm
    read of each target so the profile shows the steady read, not key loading."""
    print(f"filling a store of {customers:,} customers to profile a read", flush=True)
    built = reads.build(
        new_store(tmp / "reads"),
        customers=customers,
        targets=4,
        events=1_000,
        seed=5,
        progress=print,
    )
    app = built.store.open()
    try:
        key = ApiKey(built.key_id, "bench reads", frozenset({f"read:{reads.PURPOSE}"}))
        purpose = purpose_for(key, app.policy, reads.PURPOSE)
        ids = [t.customer_id for t in built.targets]
        for customer_id in ids:
            reads.read_once(app, customer_id, purpose, built.key_id)
        profile = cProfile.Profile()
        profile.enable()
        for n in range(count):
            reads.read_once(app, ids[n % len(ids)], purpose, built.key_id)
        profile.disable()
    finally:
        app.close()
    profile.dump_stats(OUT / "read.prof")
    title = f"{count} read(s) of {built.events_per_target:,} events, {customers:,} customers"
    (OUT / "read.txt").write_text(report(pstats.Stats(profile), title, top), encoding="utf-8")
    return OUT / "read.txt"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
