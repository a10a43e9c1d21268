"""Destination throughput: deliveries/s from one `Worker.run_once` to a receiver on loopback.

Sharing with a destination happens after collection, one outbox row per stored event
and interested destination; if the worker drains slower than collection fills the
outbox, the queue (and the delay before a recommender sees a rating) only grows. So
the figure is how fast one worker empties a full outbox when the receiver is not the
bottleneck.

The store is a fresh SQLite one whose policy is the example policy plus one
destination (`recommender`, serving `personalize.content.profiled`, as in
tests/destinations) pointing at `bench.receiver`, a bare ASGI app under uvicorn in a
process of its own that answers 200 and counts requests. It is filled through
Trustable's own services, as collection fills it:
1. `customers` customers grant `personalize.content.profiled`
   (`consent.service.record_for_identifiers`, one unit of work);
2. "Movie Rated" track calls, round robin over them, go through
   `events.service.ingest`, `BATCH` messages per committed unit of work; each queues
   one pending delivery. First `profiled` of them, drained by one `run_once` under
   cProfile (which also warms the worker up: its HTTP connections, its secret cache);
   then `deliveries` more, drained by one timed `run_once` of the same `Worker`.
The worker does what it does in service: it claims 100 deliveries (a committed lease);
`service.prepare_many` reads all the batch's events in one query
(`events.service.sealed_events_by_message`, by (customer, message id), on the index
`ix_events_customer_message`) and the customers' consent in another, then
`service._prepare` opens and filters each; the bodies are signed and posted on the
worker's sender threads, each with its own keep-alive `http.client` connections
(`destinations.sender.Sender`); then `service.finish_many` records the outcomes, one
UPDATE per final state for the whole batch and one `ledger.append` of all its `share`
entries, in one commit.
Checked after: every claimed row ended delivered, the outbox holds that many delivered
rows and none pending, and the receiver counted exactly as many requests, each with a
distinct Idempotency-Key. Last, for scale, `Sender.post` alone, one post after the
other to the same receiver: the ceiling of one thread posting with that client.

cProfile sees only the thread that enabled it, the main one: the posts (`service.post`,
`Sender.post`) run on the sender threads and are absent from the profile, and their
cost shows as the remainder of `Worker._deliver`, the main thread waiting for them.

`python -m bench.deliveries` runs this part alone (for working on it).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.http_load import REPO, free_port
from bench.report import table
from bench.world import new_store
from trustable.bootstrap import Trustable, bootstrap
from trustable.consent import service as consent_service
from trustable.consent.service import ConsentMethod, ConsentStatus, record_for_identifiers
from trustable.core.settings import example_policy_path
from trustable.destinations import sender, service
from trustable.destinations.outbox import DELIVERED, PENDING
from trustable.destinations.sender import Sender
from trustable.destinations.tables import outbox
from trustable.destinations.worker import Worker
from trustable.events import service as events_service
from trustable.events.segment import Message, parse_batch
from trustable.events.service import ingest
from trustable.ledger import service as ledger_service
from trustable.storage.uow import UnitOfWork

PURPOSE = "personalize.content.profiled"
DESTINATION = "recommender"
BATCH = 1_000  # track calls per committed unit of work while filling the outbox
START_TIMEOUT_S = 20.0
HTTP_ONLY_POSTS = 5_000  # sequential posts timed alone, for the HTTP ceiling
OUT = Path(__file__).resolve().parent / "out"

# What one delivery costs, read from the profile: (label, function). cProfile's
# cumulative time of a function counts all its calls, wherever they come from, but
# only on the main thread: the posts, made on the sender threads, show 0 calls.
BREAKDOWN: list[tuple[str, Callable[..., Any]]] = [
    ("`Worker.run_once` (everything)", Worker.run_once),
    ("  `service.claim` (select 100 due + lease update)", service.claim),
    ("  `Worker._deliver` (one claimed batch)", Worker._deliver),
    ("    `service.prepare_many` (one read for the batch)", service.prepare_many),
    ("    `service._prepare` (filter, body)", service._prepare),
    ("      `events.service.sealed_events_by_message`", events_service.sealed_events_by_message),
    ("      `consent.service.decisions_for`", consent_service.decisions_for),
    ("      `SealedEvent.open` (data key, decrypt)", events_service.SealedEvent.open),
    ("      `service._user_id` (only for purposes that may use ids)", service._user_id),
    ("    `service.post` (sign + post; on the sender threads, not seen)", service.post),
    ("      `Sender.post` (on the sender threads, not seen)", Sender.post),
    ("    `service.finish_many` (ledger + outbox updates)", service.finish_many),
    ("      `ledger.service.append` (the batch's share entries)", ledger_service.append),
    ("  `UnitOfWork.__enter__` (all units)", UnitOfWork.__enter__),
    ("  `UnitOfWork.commit` (all units)", UnitOfWork.commit),
    ("  `UnitOfWork.__exit__` (all units)", UnitOfWork.__exit__),
]


@dataclass(frozen=True)
class Step:
    label: str
    name: str  # the function's qualified name, to find the step again
    calls: int
    us_per_delivery: float
    share: float  # of run_once


@dataclass(frozen=True)
class Hotspot:
    where: str
    calls: int
    own_us_per_delivery: float
    cum_us_per_delivery: float


@dataclass(frozen=True)
class DeliveriesResult:
    customers: int
    consent_s: float
    ingest_s: float
    events_ingested: int
    queued: int  # pending rows before the timed run
    outcomes: Counter[str]
    elapsed_s: float
    outbox_delivered: int
    outbox_pending: int
    received_posts: int  # by the receiver, during the timed run
    received_keys: int
    received_bytes: int
    profiled: int
    profiled_s: float  # under cProfile, so slower than unprofiled
    breakdown: list[Step]
    hotspots: list[Hotspot]
    profile_path: Path
    sqlite_share: float
    statements: float
    batch: int  # deliveries per claim
    senders: int  # the worker's sender threads
    http_only_posts: int
    http_only_s: float

    @property
    def delivered(self) -> int:
        return self.outcomes[DELIVERED]

    @property
    def per_s(self) -> float:
        return self.delivered / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def http_only_per_s(self) -> float:
        return self.http_only_posts / self.http_only_s if self.http_only_s else 0.0


def policy_text(url: str) -> str:
    """The example policy and one destination, written as tests/destinations write it."""
    return example_policy_path().read_text() + (
        "\ndestinations:\n"
        f"  {DESTINATION}:\n"
        f"    url: {url}\n"
        f"    purposes: [{PURPOSE}]\n"
        "    mapping: {properties.movie_id: item}\n"
        "    timeout_seconds: 5\n"
        "    max_attempts: 4\n"
    )


@contextmanager
def receiver_process(log_path: Path) -> Iterator[str]:
    """Run `bench.receiver` on a free port; yield its base URL; stop it however we leave."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.receiver", str(port)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the receiver exited at start:\n{log_path.read_text()}")
                try:
                    if httpx.get(f"{url}/count", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not answer in time")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def received(url: str) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{url}/count", timeout=5.0).json()
    return counts


def measure(
    home: Path,
    tmp: Path,
    *,
    customers: int,
    deliveries: int,
    profiled: int,
    progress: Callable[[str], None],
) -> DeliveriesResult:
    """Fill the outbox and drain it as the module docstring says; the store is closed after."""
    store = new_store(home)
    policy = tmp / "deliveries-policy.yaml"
    with receiver_process(tmp / "receiver.log") as url:
        policy.write_text(policy_text(f"{url}/hook"), encoding="utf-8")
        app = bootstrap(replace(store.settings, policy_path=policy), run_migrations=False)
        try:
            return _measure(app, url, customers, deliveries, profiled, progress)
        finally:
            app.close()


def _measure(
    app: Trustable,
    url: str,
    customers: int,
    deliveries: int,
    profiled: int,
    progress: Callable[[str], None],
) -> DeliveriesResult:
    users = [f"bench-viewer-{n:06d}" for n in range(customers)]
    progress(f"  {customers:,} customers grant {PURPOSE}")
    started = time.perf_counter()
    with app.uow() as uow:
        now = app.clock()
        for user in users:
            record_for_identifiers(
                uow,
                app.vault,
                app.policy,
                idents=[("user_id", user)],
                purpose=PURPOSE,
                status=ConsentStatus.granted,
                method=ConsentMethod.api,
                now=now,
                actor="bench",
            )
        uow.commit()
    consent_s = time.perf_counter() - started

    worker = Worker(app)
    try:
        progress(f"  {profiled:,} Movie Rated events, then one run_once under cProfile")
        _fill(app, users, 0, profiled)
        _check_pending(app, profiled)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        warm = worker.run_once()
        profile.disable()
        profiled_s = time.perf_counter() - started
        if warm != {DELIVERED: profiled}:
            raise RuntimeError(f"profiled run: {dict(warm)}, expected {profiled} delivered")

        progress(f"  {deliveries:,} Movie Rated events through ingest, {BATCH:,} per unit")
        ingest_s = _fill(app, users, profiled, deliveries)
        queued = _check_pending(app, deliveries)
        before = received(url)
        progress(f"  timing one run_once draining {queued:,} deliveries")
        started = time.perf_counter()
        outcomes = worker.run_once()
        elapsed_s = time.perf_counter() - started
        after = received(url)
    finally:
        worker.close()
    http_only = _http_only(
        url, min(deliveries, HTTP_ONLY_POSTS), after["bytes"] // max(1, after["posts"])
    )
    batch, senders = worker.batch, worker.senders

    with app.reader() as uow:
        counts: dict[str, int] = dict(
            uow.connection.execute(
                select(outbox.c.state, func.count()).group_by(outbox.c.state)
            ).all()
        )
    posts = after["posts"] - before["posts"]
    keys = after["keys"] - before["keys"]
    expected_total = profiled + deliveries
    if (
        outcomes != {DELIVERED: deliveries}
        or counts.get(DELIVERED, 0) != expected_total
        or counts.get(PENDING, 0) != 0
        or posts != outcomes[DELIVERED]
        or keys != posts
    ):
        raise RuntimeError(
            f"deliveries do not add up: outcomes {dict(outcomes)}, outbox {counts}, "
            f"receiver got {posts} posts with {keys} distinct keys"
        )
    found = _analyse(profile, profiled)
    return DeliveriesResult(
        customers=customers,
        consent_s=consent_s,
        ingest_s=ingest_s,
        events_ingested=deliveries,
        queued=queued,
        outcomes=outcomes,
        elapsed_s=elapsed_s,
        outbox_delivered=counts.get(DELIVERED, 0),
        outbox_pending=counts.get(PENDING, 0),
        received_posts=posts,
        received_keys=keys,
        received_bytes=after["bytes"] - before["bytes"],
        profiled=profiled,
        profiled_s=profiled_s,
        breakdown=found.steps,
        hotspots=found.hotspots,
        profile_path=found.path,
        sqlite_share=found.sqlite_share,
        statements=found.statements,
        batch=batch,
        senders=senders,
        http_only_posts=http_only[0],
        http_only_s=http_only[1],
    )


def _http_only(url: str, posts: int, size: int) -> tuple[int, float]:
    """The HTTP ceiling of one sending thread: `Sender.post`, the worker's own client,
    alone, to the same receiver, same-sized bodies and the same headers, one after the
    other with nothing else (no signing, no SQL)."""
    body = b"x" * size
    headers = {
        "Content-Type": "application/json",
        "X-Trustable-Signature": "t=0,v1=" + "0" * 64,
        "User-Agent": "Trustable-Destinations/1",
    }
    hook = sender.target(f"{url}/hook", 5.0)  # connections are kept per target: warm this one
    client = Sender()
    try:
        for n in range(min(posts, 100)):  # warm: connection, code paths
            client.post(hook, body, {**headers, "Idempotency-Key": f"w{n}"})
        started = time.perf_counter()
        for n in range(posts):
            problem = client.post(hook, body, {**headers, "Idempotency-Key": f"h{n}"})
            if problem is not None:
                raise RuntimeError(f"posting alone: {problem}")
        return posts, time.perf_counter() - started
    finally:
        client.close()


def _fill(app: Trustable, users: list[str], first: int, count: int) -> float:
    """`count` Movie Rated calls (numbered from `first`) through `ingest`; seconds inside."""
    now = app.clock()
    seconds = 0.0
    for start in range(first, first + count, BATCH):
        docs = [
            _rated(users[n % len(users)], n, now)
            for n in range(start, min(start + BATCH, first + count))
        ]
        messages = _parse(docs, now)
        started = time.perf_counter()
        with app.uow() as uow:
            result = ingest(
                uow, app.vault, app.policy, messages, now=app.clock(), actor="bench", trusted=True
            )
            uow.commit()
        seconds += time.perf_counter() - started
        if result.stored != len(messages):
            raise RuntimeError(f"{len(messages)} events ingested, {result.stored} stored")
    return seconds


def _rated(user: str, n: int, now: datetime) -> dict[str, Any]:
    """A rating as the tests send one: mapped, plain and not-permitted fields alike."""
    return {
        "type": "track",
        "userId": user,
        "messageId": f"bench-rating-{n:08d}",
        "timestamp": (now - timedelta(seconds=n % 86_400)).isoformat(),
        "event": "Movie Rated",
        "properties": {"movie_id": str(1 + n % 1682), "rating": 1 + n % 5, "title": f"Film {n}"},
        "context": {"ip": "203.0.113.9"},
    }


def _parse(docs: list[dict[str, Any]], received_at: datetime) -> list[Message]:
    return parse_batch({"batch": docs}, single_type=None, received_at=received_at).messages


def _check_pending(app: Trustable, expected: int) -> int:
    with app.reader() as uow:
        pending = int(
            uow.connection.execute(
                select(func.count()).select_from(outbox).where(outbox.c.state == PENDING)
            ).scalar_one()
        )
    if pending != expected:
        raise RuntimeError(f"{pending:,} pending deliveries, expected {expected:,}")
    return pending


@dataclass(frozen=True)
class Profiled:
    steps: list[Step]
    hotspots: list[Hotspot]
    path: Path
    sqlite_share: float  # of run_once, inside the sqlite3 module's own calls
    statements: float  # sqlite3 `execute` calls per delivery


def _analyse(profile: cProfile.Profile, count: int) -> Profiled:
    """Per-delivery costs of the named steps, Trustable's top functions by own time, the
    time SQLite itself took (to tell the database from the layers above it), and the
    full report written to bench/out/."""
    stats = pstats.Stats(profile)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = _cumulative(raw, Worker.run_once)[1]
    steps = []
    for label, function in BREAKDOWN:
        calls, seconds = _cumulative(raw, function)
        share = seconds / total if total else 0.0
        steps.append(Step(label, function.__qualname__, calls, 1e6 * seconds / count, share))
    ours = [(key, value) for key, value in raw.items() if "src/trustable/" in key[0]]
    ours.sort(key=lambda item: item[1][2], reverse=True)
    hotspots = [
        Hotspot(
            f"{key[0].split('src/')[-1]}:{key[1]} `{key[2]}`",
            value[1],
            1e6 * value[2] / count,
            1e6 * value[3] / count,
        )
        for key, value in ours[:12]
    ]
    OUT.mkdir(exist_ok=True)
    path = OUT / "deliveries-profile.txt"
    parts = [f"# one Worker.run_once of {count:,} deliveries, cProfile\n"]
    for order, restriction in (
        ("tottime", ()),
        ("cumulative", ()),
        ("tottime", ("src/trustable",)),
    ):
        buffer = io.StringIO()
        stats.stream = buffer  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(*restriction, 40)
        parts.append(f"## by {order} {' '.join(restriction)}\n{buffer.getvalue()}")
    path.write_text("\n".join(parts), encoding="utf-8")
    in_sqlite = [v for k, v in raw.items() if k[0] == "~" and "sqlite3." in k[2]]
    executes = sum(v[1] for k, v in raw.items() if k[0] == "~" and "'execute' of 'sqlite3" in k[2])
    return Profiled(
        steps,
        hotspots,
        path,
        sum(v[2] for v in in_sqlite) / total if total else 0.0,
        executes / count,
    )


def _cumulative(
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]],
    function: Callable[..., Any],
) -> tuple[int, float]:
    """Calls and cumulative seconds of `function`, found by its code's file and line."""
    code = function.__code__
    found = raw.get((code.co_filename, code.co_firstlineno, code.co_name))
    return (found[1], found[3]) if found else (0, 0.0)


def render(result: DeliveriesResult, target: float) -> list[str]:
    """Section 7 of RESULTS.md: what was measured, the checks, and where the time goes."""
    r = result
    us = {s.name: s.us_per_delivery for s in r.breakdown}
    share = {s.name: s.share for s in r.breakdown}
    # The posts run on the sender threads, which cProfile does not see: what
    # `_deliver` spends beyond preparing and recording is the main thread waiting
    # for them (and opening and committing its two units of work).
    rest_us = us["Worker._deliver"] - us["prepare_many"] - us["finish_many"]
    rest = share["Worker._deliver"] - share["prepare_many"] - share["finish_many"]
    steps: list[tuple[str, ...]] = []
    for s in r.breakdown:
        steps.append((s.label, f"{s.calls:,}", f"{s.us_per_delivery:,.0f}", f"{s.share:.0%}"))
        if s.name == "Sender.post":
            steps.append(
                (
                    f"    rest of `Worker._deliver`: waiting for the {r.senders} sender threads",
                    "",
                    f"{rest_us:,.0f}",
                    f"{rest:.0%}",
                )
            )
    spots = [
        (h.where, f"{h.calls:,}", f"{h.own_us_per_delivery:,.1f}", f"{h.cum_us_per_delivery:,.1f}")
        for h in r.hotspots
    ]
    verdict = "meets" if r.per_s >= target else "misses"
    return [
        "## 7. Destination throughput",
        "",
        "One `destinations.worker.Worker(app).run_once()` in the benchmark's process, "
        "draining a full outbox to a receiver on loopback. The store is a fresh SQLite one "
        "whose policy is the example policy plus one destination (`recommender`, purposes "
        f"[`{PURPOSE}`], mapping `properties.movie_id` to `item`, as in tests/destinations) "
        "whose URL is `bench.receiver`: a bare ASGI app under uvicorn in a process of its "
        "own, answering 200 to every POST and counting requests and distinct "
        "Idempotency-Keys. It is filled through Trustable's own services: "
        f"{r.customers:,} customers grant `{PURPOSE}` (`record_for_identifiers`, "
        f'{r.consent_s:.1f} s), then "Movie Rated" track calls (movie id, rating, title, '
        f"an IP address) round robin over them go through `events.service.ingest`, {BATCH:,} "
        "per committed unit of work, each queueing one pending delivery. A first "
        f"{r.profiled:,} are drained by one `run_once` under cProfile (also the warm-up: "
        "connections, secret cache); then the timed ones.",
        "",
        f"Each delivery is the worker's own. They are claimed {r.batch:,} at a time (a "
        "committed lease); `service.prepare_many` reads all a batch's events in one query "
        "(`events.service.sealed_events_by_message`, by (customer, message id), on the "
        "index `ix_events_customer_message`) and its customers' consent in another, then "
        "`service._prepare` opens each event and keeps the fields consent permits now; each "
        f"body is signed (HMAC-SHA256) and posted on one of the worker's {r.senders} sender "
        "threads, each with its own keep-alive `http.client` connections "
        "(`destinations.sender.Sender`); then `service.finish_many` records the outcomes, "
        "one UPDATE per final state for the whole batch and one `ledger.append` of all its "
        "`share` entries, in one commit. The standard library's client, not `httpx`: it "
        "costs about a quarter of `httpx`'s client CPU time per post, and threads sharing "
        "one `httpx.Client` contend on its pool (on a 2-core machine, `httpx` alone "
        "managed about 1,660 posts/s one after the other and fewer from 8 threads; "
        "`http.client` about 3,400 to 4,000/s).",
        "",
        f"- outbox filled: {r.events_ingested:,} events ingested in {r.ingest_s:.1f} s "
        f"({r.events_ingested / r.ingest_s:,.0f} events/s), {r.queued:,} pending deliveries",
        f"- timed: one `run_once`, {r.delivered:,} delivered in {r.elapsed_s:.2f} s = "
        f"**{r.per_s:,.0f} deliveries/s** ({1e6 * r.elapsed_s / max(r.delivered, 1):,.0f} µs "
        f"per delivery); outcomes {dict(r.outcomes)}",
        f"- checked: the receiver got {r.received_posts:,} requests with {r.received_keys:,} "
        f"distinct Idempotency-Keys ({r.received_bytes / max(r.received_posts, 1):.0f} bytes "
        f"of body each), the outbox holds {r.outbox_delivered:,} delivered rows (profiled "
        f"run included) and {r.outbox_pending} pending",
        f"- HTTP alone, for scale: {r.http_only_posts:,} `Sender.post` (the worker's own "
        "client) of bodies of that size with the same headers to the same receiver, one "
        "after the other on one thread with nothing else (no signing, no SQL) = "
        f"{r.http_only_per_s:,.0f} posts/s ({1e6 / r.http_only_per_s:,.0f} µs each): the "
        f"ceiling of one sending thread. The worker's {r.senders} sender threads overlap "
        "their waits for the receiver's answers, but the client's own Python work runs one "
        "thread at a time (one interpreter lock)",
        f"- one worker {verdict} the target of {target:,.0f} deliveries/s"
        + (f" ({target / r.per_s:.1f}× short)." if r.per_s < target else "."),
        "",
        f"Where a delivery's time goes: one `run_once` of {r.profiled:,} deliveries under "
        f"cProfile ({r.profiled_s:.2f} s with the profiler's overhead, "
        f"{r.profiled / r.profiled_s:,.0f}/s), cumulative time per delivery. A function "
        "counts all its calls wherever from (the units of work are the claims', the "
        "reads' and the outcomes'). cProfile sees only the main thread: `service.post` and "
        "`Sender.post` run on the sender threads and show 0 calls; their cost is the rest "
        f"of `Worker._deliver`. Full report: `bench/out/{r.profile_path.name}`.",
        "",
        *table(("step", "calls", "µs per delivery", "of run_once"), steps),
        "",
        "Trustable's own functions by own time (µs per delivery):",
        "",
        *table(("function", "calls", "own µs", "cumulative µs"), spots),
        "",
        f"What the profile shows: the SQL is a handful of statements per claimed batch "
        f"({r.statements:.2f} sqlite3 `execute` calls per delivery; SQLite's own calls "
        f"{r.sqlite_share:.0%} of `run_once`). On the main thread, preparing "
        f"(`prepare_many`: the two reads, opening and filtering each event, the bodies) is "
        f"{share['prepare_many']:.0%} of a delivery's time (decryption, "
        f"`SealedEvent.open`, {share['SealedEvent.open']:.0%}) and recording the "
        f"outcomes (`finish_many`) {share['finish_many']:.0%}; the rest of "
        f"`Worker._deliver`, {rest:.0%}, is the main thread waiting while the "
        f"{r.senders} sender threads sign and post the batch. The profiler slows the main "
        "thread only, so in the timed run posting takes a larger part than this.",
        "",
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deliveries", description=__doc__)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--profiled", type=int, default=1_000)
    parser.add_argument("--target", type=float, default=2_000.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trustable-deliveries-") as tmp_name:
        tmp = Path(tmp_name)
        result = measure(
            tmp / "store",
            tmp,
            customers=args.customers,
            deliveries=args.deliveries,
            profiled=args.profiled,
            progress=lambda line: print(line, flush=True),
        )
    print("\n".join(render(result, args.target)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
