"""What one run of the bench is asked to do: its sections, sizes and durations.

`python -m bench` runs every section with the sizes its targets are set for; `--quick`
swaps in small ones for a smoke run (figures not comparable), and `--only` picks
sections by name or number, so one section can be measured again without the rest.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from bench import citus, scale

HERE = Path(__file__).resolve().parent

# The sections, in the order they run and are numbered; `--only` takes these names.
SECTIONS = (
    "http",
    "pipeline",
    "may",
    "ledger-cost",
    "proofs",
    "reads",
    "deliveries",
    "rights",
    "personalize",
    "incidents",
    "analytics",
    "risk",
    "segments",
    "scale",
    "soak",
    "tiles",
    "banner",
    "citus",
)
SEEDED = frozenset({"http", "pipeline", "ledger-cost"})  # sections on the seeded store


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
    sections: frozenset[str]
    scale: scale.ScaleOptions
    citus: citus.CitusOptions


def sections_of(text: str | None) -> frozenset[str]:
    """`--only`'s names (or section numbers), checked; every section without it."""
    if text is None:
        return frozenset(SECTIONS)
    chosen = set()
    for word in filter(None, (w.strip() for w in text.split(","))):
        if word.isdigit() and 1 <= int(word) <= len(SECTIONS):
            chosen.add(SECTIONS[int(word) - 1])
        elif word in SECTIONS:
            chosen.add(word)
        else:
            raise SystemExit(f"--only: no section {word!r}; sections: {', '.join(SECTIONS)}")
    if not chosen:
        raise SystemExit("--only: name at least one section")
    return frozenset(chosen)


def options(argv: list[str], description: str) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=description)
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
    parser.add_argument(
        "--scale-clients", type=int, default=6, help="scale-out: client threads per run"
    )
    parser.add_argument(
        "--scale-warmup", type=float, default=5.0, help="scale-out: warm-up per run, seconds"
    )
    parser.add_argument(
        "--scale-duration", type=float, default=30.0, help="scale-out: timed load per run, seconds"
    )
    parser.add_argument(
        "--sequenced", type=int, default=200_000, help="scale-out: pending records sequenced"
    )
    parser.add_argument(
        "--twin-batches",
        type=int,
        default=600,
        help="scale-out: batches sent to both of two servers on one database",
    )
    parser.add_argument(
        "--twin-users", type=int, default=300, help="scale-out: users the two servers share"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TRUSTABLE_BENCH_POSTGRES", scale.POSTGRES_URL),
        help="scale-out: the PostgreSQL database to make (and drop) schemas in",
    )
    parser.add_argument(
        "--shards", type=int, default=16, help="citus: shards of each distributed table"
    )
    parser.add_argument(
        "--citus-customers",
        type=int,
        default=100_000,
        help="citus: customers stored when a worker joins",
    )
    parser.add_argument(
        "--only",
        metavar="SECTION[,SECTION]",
        default=None,
        help=f"run only these sections: {', '.join(SECTIONS)} (or their numbers)",
    )
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run (figures not comparable), written to bench/out/quick.md "
        "unless --output is given",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the report (bench/RESULTS.md; with --only, bench/out/only-*.md)",
    )
    args = parser.parse_args(argv)
    sections = sections_of(args.only)
    partial = sections != frozenset(SECTIONS)
    default_output = (
        HERE / "out" / ("only-" + "-".join(n for n in SECTIONS if n in sections) + ".md")
        if partial
        else HERE / "RESULTS.md"
    )
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
            sections=sections,
            scale=scale.ScaleOptions(
                postgres_url=args.postgres_url,
                users=500,
                clients=4,
                warmup_s=2.0,
                duration_s=3.0,
                sequenced=20_000,
                submit_unit=1_000,
                twin_users=100,
                twin_batches=40,
                twin_clients=2,
                seed=args.seed,
            ),
            citus=citus.CitusOptions(
                postgres_url=args.postgres_url,
                shards=8,
                users=500,
                clients=4,
                warmup_s=2.0,
                duration_s=3.0,
                small=300,
                large=2_000,
                targets=3,
                events=100,
                rounds=2,
                seed=args.seed,
            ),
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
        output=args.output or default_output,
        sections=sections,
        scale=scale.ScaleOptions(
            postgres_url=args.postgres_url,
            users=args.users,
            clients=args.scale_clients,
            warmup_s=args.scale_warmup,
            duration_s=args.scale_duration,
            sequenced=args.sequenced,
            submit_unit=1_000,
            twin_users=args.twin_users,
            twin_batches=args.twin_batches,
            twin_clients=4,
            seed=args.seed,
        ),
        citus=citus.CitusOptions(
            postgres_url=args.postgres_url,
            shards=args.shards,
            users=args.users,
            clients=args.scale_clients,
            warmup_s=args.scale_warmup,
            duration_s=args.scale_duration,
            small=2_000,
            large=args.citus_customers,
            targets=10,
            events=1_000,
            rounds=3,
            seed=args.seed,
        ),
    )
