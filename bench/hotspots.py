"""`python -m bench.hotspots`: where collection spends its time (cProfile).

Not part of `make bench` (a profiler slows what it watches, so its numbers are not
figures). It profiles, on a seeded store of its own:
1. the in-process pipeline, `ingest` over a few thousand events;
2. the HTTP path, with the server process profiling itself (its event-loop thread,
   and each thread-pool worker running the collection work), under the same load.
Reports (top functions by own time and by cumulative time, all code and Trustable's
alone) are written to bench/out/ and their paths printed.
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

from bench import http_load, pipeline
from bench.traffic import Traffic, make_users
from bench.world import new_store, seed

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
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    rng = random.Random(7)
    traffic = Traffic(make_users(args.users, rng), rng)
    with tempfile.TemporaryDirectory(prefix="trustable-hotspots-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"seeding {args.users:,} users", flush=True)
        seeded = seed(new_store(tmp / "seed"), traffic.users, rng)

        print(f"profiling ingest over {args.batches * BATCH:,} events", flush=True)
        app = seeded.store.clone(tmp / "pipeline").open()
        try:
            now = app.clock()
            pipeline.run_ingest(app, pipeline.parsed_batches(traffic, 10, BATCH, now))
            batches = pipeline.parsed_batches(traffic, args.batches, BATCH, now)
            profile = cProfile.Profile()
            profile.enable()
            pipeline.run_ingest(app, batches)
            profile.disable()
        finally:
            app.close()
        profile.dump_stats(OUT / "pipeline.prof")
        text = report(pstats.Stats(profile), "ingest, in process", args.top)
        (OUT / "pipeline.txt").write_text(text, encoding="utf-8")

        print(f"profiling the server under {args.duration:.0f} s of load", flush=True)
        profiles = tmp / "profiles"
        store = seeded.store.clone(tmp / "http")
        with http_load.server_process(store, tmp / "server.log", profile_dir=profiles) as url:
            warm = traffic.bodies(40, BATCH)
            http_load.drive(url, seeded.write_key, warm, batch_size=BATCH, clients=4, duration_s=3)
            bodies = traffic.bodies(int(args.duration * 60), BATCH)
            load = http_load.drive(
                url,
                seeded.write_key,
                bodies,
                batch_size=BATCH,
                clients=4,
                duration_s=args.duration,
            )
        print(f"  {load.events_per_s:,.0f} events/s under the profiler", flush=True)
        loop = pstats.Stats(str(profiles / "server-loop.prof"))
        workers = pstats.Stats(*(str(p) for p in sorted(profiles.glob("server-worker-*.prof"))))
        for name in ("server-loop.prof", "server-workers.prof"):
            target = OUT / name
            (loop if name == "server-loop.prof" else workers).dump_stats(target)
        text = "\n".join(
            [
                report(loop, "HTTP server: event-loop thread", args.top),
                report(workers, "HTTP server: thread-pool workers (_collect)", args.top),
            ]
        )
        (OUT / "server.txt").write_text(text, encoding="utf-8")
    print(f"written: {OUT / 'pipeline.txt'}, {OUT / 'server.txt'} (and .prof files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
