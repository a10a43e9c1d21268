"""Purpose-bound reads over real HTTP: one profile of 1,000 events, 100,000 customers loaded.

A read sits on the request path of the company's own services (recommendations
while a page renders), so its latency, decryption included, is what they feel; and a
long history in a large store is the case that shows whether a read costs what the
customer holds rather than what the store holds.

The SQLite store is filled through Trustable's own services, as collection fills it
(no rows are written behind their back):
1. `customers` customers, each from one identify call (userId, anonymousId and
   sign-up traits, some not in the tracking plan) through `events.service.ingest`,
   `BUILD_BATCH` messages per committed unit of work: each gets a data key,
   identifiers, sealed traits, an identify event and a ledger entry. The time spent
   in `ingest` and its commits is measured and reported: it is what the build costs.
2. `targets` of them, spread over the pool, grant `personalize.content.profiled`
   (`consent.service.record_for_identifiers`), identify again with the demographic
   traits that purpose may use, then send `events` track calls each ("Movie Rated",
   "Order Completed", "Product Viewed", properties in the tracking plan, spread over
   the last 90 days), through `ingest` again.
3. A key with the one scope `read:personalize.content.profiled` (`create_key`).

The server is the HTTP benchmark's (`bench.server`: a process of its own running
`trustable.api.server.run(..., worker=False, quiet=True)`, the call `trustable serve`
makes, start-up objects frozen out of the collector included). Keep-alive
`httpx` clients then `GET /v1/customers/{id}/profile?purpose=
personalize.content.profiled&limit=1000`, each request timed alone from send to the
last byte of the answer: one untimed cold read per target first (their keys are not
in the server's cache yet), then the judged run, one client reading one profile after
another (the target is the latency of one read), then `clients` clients at once, as
several services would call, shown but not judged. Every answer is checked: 200, the
right customer, exactly `events` events each with decrypted fields, the demographic
traits, and the IP address withheld as not used. Last, the same read in-process, as
the route runs it (`read_profile` in a read-only unit of work, its ledger entry
committed in a writer unit, then the route's JSON answer), splits the HTTP time into
what the read itself costs and what answering over HTTP adds.
"""

from __future__ import annotations

import gc
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.http_load import server_process
from bench.report import table
from bench.traffic import User, make_users
from bench.world import Store
from trustable.access.reads import MAX_EVENTS, Profile, log_read, purpose_for, read_profile
from trustable.access.routes import _answer
from trustable.access.service import ApiKey, create_key
from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentMethod, ConsentStatus, record_for_identifiers
from trustable.events.segment import Message, parse_batch
from trustable.events.service import IngestResult, ingest
from trustable.identity.kinds import normalise
from trustable.identity.service import find_customer
from trustable.policy.service import Purpose

PURPOSE = "personalize.content.profiled"
BUILD_BATCH = 1_000  # identify messages per unit of work while building the store
LIBRARY = {"name": "analytics-python", "version": "2.4.0"}
# Traits the purpose may use (user.demographic, user.job_title): a read returns them.
PURPOSE_TRAITS = ("age", "gender", "occupation")


@dataclass(frozen=True)
class Target:
    user_id: str
    customer_id: str


@dataclass(frozen=True)
class Built:
    """The filled store, who to read, the key to read with, and what filling it cost."""

    store: Store
    api_key: str
    key_id: str
    targets: list[Target]
    customers: int
    events_per_target: int
    identify_s: float  # inside `ingest` and its commits, one identify call per customer
    identify_wall_s: float  # the same, with making and parsing the messages
    customers_created: int
    target_events_s: float
    target_events_stored: int
    consent_s: float
    db_mib: float
    keys_mib: float

    @property
    def identify_per_s(self) -> float:
        return self.customers / self.identify_s


def build(
    store: Store,
    *,
    customers: int,
    targets: int,
    events: int,
    seed: int,
    progress: Callable[[str], None],
) -> Built:
    """Fill `store` as described in the module docstring; `store` is closed after."""
    rng = random.Random(seed)
    users = make_users(customers, rng)
    app = store.open()
    try:
        now = app.clock()
        progress(f"  {customers:,} customers: identify through ingest, {BUILD_BATCH:,} per unit")
        wall = time.perf_counter()
        identify_s = 0.0
        created = 0
        for start in range(0, customers, BUILD_BATCH):
            docs = [
                _identify(u, now - timedelta(days=120), rng)
                for u in users[start : start + BUILD_BATCH]
            ]
            messages = _parse(docs, now)
            seconds, result = _ingest(app, messages)
            identify_s += seconds
            created += result.customers_created
            if (start // BUILD_BATCH) % 20 == 19:
                done = start + len(messages)
                progress(f"    {done:,} customers in {time.perf_counter() - wall:.1f} s")
        identify_wall_s = time.perf_counter() - wall
        if created != customers:
            raise RuntimeError(f"{customers:,} identify calls made {created:,} customers")

        chosen = [
            users[(n * customers) // targets + customers // (2 * targets)] for n in range(targets)
        ]
        progress(f"  {targets} targets: consent, identify again, {events:,} track calls each")
        start_consent = time.perf_counter()
        with app.uow() as uow:
            for user in chosen:
                record_for_identifiers(
                    uow,
                    app.vault,
                    app.policy,
                    idents=[("user_id", normalise("user_id", user.user_id))],
                    purpose=PURPOSE,
                    status=ConsentStatus.granted,
                    method=ConsentMethod.api,
                    now=now,
                    actor="bench",
                )
            uow.commit()
        consent_s = time.perf_counter() - start_consent

        target_docs: list[dict[str, Any]] = []
        for user in chosen:
            target_docs.append(_identify(user, now - timedelta(days=100), rng))
            target_docs.extend(_track(user, now, n, events, rng) for n in range(events))
        target_events_s = 0.0
        stored = 0
        for start in range(0, len(target_docs), BUILD_BATCH):
            seconds, result = _ingest(app, _parse(target_docs[start : start + BUILD_BATCH], now))
            target_events_s += seconds
            stored += result.stored
            if result.customers_created:
                raise RuntimeError("a target's events made a new customer")

        with app.uow() as uow:
            found = [find_customer(uow, app.vault, "user_id", u.user_id) for u in chosen]
            key, api_key = create_key(
                uow, app.policy, name="bench reads", scopes=[f"read:{PURPOSE}"], now=now
            )
            uow.commit()
    finally:
        app.close()
    if any(c is None for c in found):
        raise RuntimeError("a target customer cannot be found by their user id")
    return Built(
        store=store,
        api_key=api_key,
        key_id=key.key_id,
        targets=[Target(u.user_id, str(c)) for u, c in zip(chosen, found, strict=True)],
        customers=customers,
        events_per_target=events,
        identify_s=identify_s,
        identify_wall_s=identify_wall_s,
        customers_created=created,
        target_events_s=target_events_s,
        target_events_stored=stored,
        consent_s=consent_s,
        db_mib=_mib(store.home, "data.db"),
        keys_mib=_mib(store.home, "keys.db"),
    )


def _mib(home: Path, name: str) -> float:
    """A SQLite database's size with its write-ahead log."""
    return sum(p.stat().st_size for p in home.glob(name + "*")) / 2**20


def _parse(docs: list[dict[str, Any]], received_at: datetime) -> list[Message]:
    """As `/v1/batch` hands messages to `ingest` (parsed and validated the same way)."""
    return parse_batch({"batch": docs}, single_type=None, received_at=received_at).messages


def _ingest(app: Trustable, messages: list[Message]) -> tuple[float, IngestResult]:
    """One committed unit of work, timed from its opening to its commit."""
    started = time.perf_counter()
    with app.uow() as uow:
        result = ingest(
            uow, app.vault, app.policy, messages, now=app.clock(), actor="bench", trusted=True
        )
        uow.commit()
    return time.perf_counter() - started, result


def _base(kind: str, user: User, at: datetime, rng: random.Random) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "userId": user.user_id,
        "anonymousId": user.anonymous_id,
        "timestamp": at.isoformat(),
        "context": {
            "library": LIBRARY,
            "ip": user.ip,
            "userAgent": user.user_agent,
            "locale": user.locale,
            "timezone": user.timezone,
        },
    }


def _identify(user: User, at: datetime, rng: random.Random) -> dict[str, Any]:
    """A sign-up form's identify: every trait the user has, in the plan or not."""
    message = _base("identify", user, at - timedelta(seconds=rng.randrange(86_400)), rng)
    message["traits"] = dict(user.traits)
    return message


def _track(user: User, now: datetime, n: int, total: int, rng: random.Random) -> dict[str, Any]:
    """The n-th of `total` track calls spread over the last 90 days, oldest first."""
    at = now - timedelta(days=90) * (1 - n / total) - timedelta(seconds=rng.randrange(60))
    message = _base("track", user, at, rng)
    roll = rng.random()
    if roll < 0.5:
        event = "Movie Rated"
        properties: dict[str, Any] = {
            "movie_id": rng.randrange(1, 1683),
            "title": f"Film {rng.randrange(1, 1683)}",
            "rating": rng.randrange(1, 6),
        }
    elif roll < 0.8:
        event = "Product Viewed"
        sku = f"sku-{rng.randrange(1, 60)}"
        properties = {"product_id": sku, "sku": sku, "price": 9.5, "currency": "EUR"}
    else:
        event = "Order Completed"
        sku = f"sku-{rng.randrange(1, 60)}"
        quantity = rng.randrange(1, 4)
        properties = {
            "order_id": f"o-{rng.getrandbits(48):012x}",
            "total": round(9.5 * quantity, 2),
            "revenue": round(9.5 * quantity, 2),
            "currency": "EUR",
            "products": [{"product_id": sku, "sku": sku, "price": 9.5, "quantity": quantity}],
        }
    message.update(event=event, properties=properties)
    return message


# -- reading over HTTP ---------------------------------------------------------------


@dataclass
class ReadRun:
    """One run of timed reads: latencies in seconds and what the answers weighed."""

    clients: int
    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    bytes_total: int = 0
    events_total: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    @property
    def reads_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def ms(self, q: float) -> float:
        return 1000 * quantile(self.latencies_s, q)

    @property
    def mean_bytes(self) -> float:
        return self.bytes_total / self.requests if self.requests else 0.0


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank on the sorted samples (the same rule as the other figures)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class HttpReads:
    cold: ReadRun
    sequential: ReadRun  # one client: the judged run
    concurrent: ReadRun  # several clients at once, not judged


def measure_http(
    built: Built,
    log_path: Path,
    *,
    requests: int,
    sequential: int,
    clients: int,
) -> HttpReads:
    """Cold pass, the judged run by one client, then `clients` clients at once."""
    with server_process(built.store, log_path) as url:
        ids = [t.customer_id for t in built.targets]
        cold = _drive(url, built, [ids], check=built.events_per_target)
        seq = _drive(url, built, [_round_robin(ids, sequential, 0)], check=built.events_per_target)
        each = [
            _round_robin(ids, requests // clients, n * len(ids) // clients) for n in range(clients)
        ]
        conc = _drive(url, built, each, check=built.events_per_target)
    for run, what in ((cold, "cold reads"), (seq, "judged reads"), (conc, "concurrent reads")):
        if run.errors:
            raise RuntimeError(
                f"{what}: {len(run.errors)} of {run.requests} reads failed; first: {run.errors[0]}"
            )
    return HttpReads(cold, seq, conc)


def _round_robin(ids: list[str], count: int, offset: int) -> list[str]:
    return [ids[(offset + n) % len(ids)] for n in range(count)]


def _drive(url: str, built: Built, plans: list[list[str]], *, check: int) -> ReadRun:
    """One thread per plan, each with its own keep-alive client, started together."""
    run = ReadRun(clients=len(plans))
    lock = threading.Lock()
    ready = threading.Barrier(len(plans) + 1)
    headers = {"Authorization": f"Bearer {built.api_key}"}
    params = {"purpose": PURPOSE, "limit": str(MAX_EVENTS)}

    def client_loop(plan: list[str]) -> None:
        latencies: list[float] = []
        errors: list[str] = []
        size = events = 0
        with httpx.Client(base_url=url, headers=headers, timeout=60.0) as client:
            client.get("/health")  # open the connection before the clock starts
            ready.wait()
            for customer_id in plan:
                sent = time.perf_counter()
                try:
                    response = client.get(f"/v1/customers/{customer_id}/profile", params=params)
                except httpx.HTTPError as exc:  # the server died or hung: stop this client
                    latencies.append(time.perf_counter() - sent)
                    errors.append(f"{exc.__class__.__name__}: {exc}")
                    break
                latencies.append(time.perf_counter() - sent)
                problem = _problem(response, customer_id, check)
                if problem is not None:
                    errors.append(problem)
                    continue
                size += len(response.content)
                events += check
        with lock:
            run.latencies_s.extend(latencies)
            run.errors.extend(errors)
            run.bytes_total += size
            run.events_total += events

    threads = [threading.Thread(target=client_loop, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    run.elapsed_s = time.perf_counter() - started
    return run


def _problem(response: httpx.Response, customer_id: str, events: int) -> str | None:
    """Why an answer is not the profile it should be, or None when it is.

    A fast wrong answer must not pass for a fast read: every answer has to hold the
    whole history, decrypted, with what the purpose may not use held back.
    """
    if response.status_code != 200:
        return f"{response.status_code}: {response.text[:300]}"
    doc = orjson.loads(response.content)
    if doc.get("customer_id") != customer_id or doc.get("purpose") != PURPOSE:
        return f"answer for {doc.get('customer_id')}/{doc.get('purpose')}, not {customer_id}"
    got = doc.get("events", [])
    if len(got) != events:
        return f"{customer_id}: {len(got)} events, expected {events}"
    for event in got:
        fields = event["fields"]
        if "event" not in fields or "context.ip" in fields:
            return f"{customer_id}: an event without its name, or with the IP address"
        if not any(path.startswith("properties.") for path in fields):
            return f"{customer_id}: an event without its properties"
    if any(name not in doc.get("traits", {}) for name in PURPOSE_TRAITS):
        return f"{customer_id}: traits {sorted(doc.get('traits', {}))} lack {PURPOSE_TRAITS}"
    held = {(w["category"], w["reason"]) for w in doc.get("withheld", [])}
    if ("user.device.ip_address", "purpose_does_not_use_it") not in held:
        return f"{customer_id}: the IP address is not reported as withheld"
    return None


# -- the same read in-process ----------------------------------------------------------


@dataclass(frozen=True)
class InProcess:
    """Medians over `reads` reads, in ms: where the time of one read goes."""

    reads: int
    read_ms: float  # read_profile in a reader unit, then log_read committed (the route's)
    read_p99_ms: float
    answer_ms: float  # access.routes._answer: the profile encoded to JSON by orjson
    json_bytes: int


def measure_in_process(built: Built, *, reads: int) -> InProcess:
    """`read_profile` as the route calls it, without HTTP, on the same store."""
    app = built.store.open()
    try:
        key = ApiKey(built.key_id, "bench reads", frozenset({f"read:{PURPOSE}"}))
        purpose = purpose_for(key, app.policy, PURPOSE)
        ids = [t.customer_id for t in built.targets]
        for customer_id in ids:  # as over HTTP, the cold read of each is not counted
            read_once(app, customer_id, purpose, built.key_id)
        read_s: list[float] = []
        answer_s: list[float] = []
        size = 0
        gc.collect()
        for n in range(reads):
            started = time.perf_counter()
            profile = read_once(app, ids[n % len(ids)], purpose, built.key_id)
            read_done = time.perf_counter()
            size = len(_answer(profile).body)
            answer_done = time.perf_counter()
            read_s.append(read_done - started)
            answer_s.append(answer_done - read_done)
            if len(profile.events) != built.events_per_target:
                raise RuntimeError(f"in-process read returned {len(profile.events)} events")
    finally:
        app.close()
    return InProcess(
        reads=reads,
        read_ms=1000 * statistics.median(read_s),
        read_p99_ms=1000 * quantile(read_s, 0.99),
        answer_ms=1000 * statistics.median(answer_s),
        json_bytes=size,
    )


def read_once(app: Trustable, customer_id: str, purpose: Purpose, actor: str) -> Profile:
    """One read as `access.routes.profile` runs it (less the customer look-up): gathered
    in a read-only unit, then its ledger entry committed, so that is paid for too."""
    with app.reader() as uow:
        profile = read_profile(uow, app.vault, app.policy, customer_id=customer_id, purpose=purpose)
    with app.uow() as uow:
        log_read(uow, app.vault, profile, actor=actor, now=app.clock())
        uow.commit()
    return profile


# -- the whole measurement, and its section of RESULTS.md ------------------------------


@dataclass(frozen=True)
class ReadsResult:
    built: Built
    http: HttpReads
    in_process: InProcess
    requests: int
    clients: int


def measure(
    store: Store,
    tmp: Path,
    *,
    customers: int,
    targets: int,
    events: int,
    requests: int,
    sequential: int,
    clients: int,
    in_process_reads: int,
    seed: int,
    progress: Callable[[str], None],
) -> ReadsResult:
    """Build the store, read it over HTTP, then read it in-process (see the docstring)."""
    built = build(
        store, customers=customers, targets=targets, events=events, seed=seed, progress=progress
    )
    progress(
        f"  built: {built.customers:,} identify calls ingested in {built.identify_s:.1f} s "
        f"({built.identify_per_s:,.0f}/s); {built.target_events_stored:,} target events in "
        f"{built.target_events_s:.1f} s; data store {built.db_mib:,.0f} MiB"
    )
    progress(
        f"  reading over HTTP: {targets} cold, {sequential} with 1 client (judged), "
        f"{requests} with {clients} clients at once"
    )
    http = measure_http(
        built, tmp / "reads-server.log", requests=requests, sequential=sequential, clients=clients
    )
    progress(f"  the same read in-process, {in_process_reads} times")
    local = measure_in_process(built, reads=in_process_reads)
    return ReadsResult(built, http, local, requests=http.concurrent.requests, clients=clients)


def render(result: ReadsResult, *, nproc: int) -> list[str]:
    """Section 6 of RESULTS.md: exactly what was built, read, timed and checked.

    `nproc` is the machine's: the server and the clients share its cores, which is
    why reads sent at once take longer each than reads sent one after another.
    """
    b, h, local = result.built, result.http, result.in_process

    def row(name: str, run: ReadRun) -> tuple[str, ...]:
        return (
            name,
            f"{run.requests:,}",
            f"{run.ms(0.5):.1f}",
            f"{run.ms(0.9):.1f}",
            f"{run.ms(0.99):.1f}",
            f"{1000 * max(run.latencies_s):.1f}",
            f"{run.reads_per_s:.1f}",
        )

    rows = [
        row("judged: 1 client, one read after another", h.sequential),
        row(f"{h.concurrent.clients} clients at once (not judged)", h.concurrent),
        row("cold: first read of each target (not in the figures)", h.cold),
    ]
    http_p50 = h.sequential.ms(0.5)
    answer_ms = local.read_ms + local.answer_ms
    cores = f"{nproc} core" + ("" if nproc == 1 else "s")
    return [
        "## 6. Purpose-bound reads over HTTP",
        "",
        f"`GET /v1/customers/{{id}}/profile?purpose={PURPOSE}&limit={MAX_EVENTS}` for "
        f"customers with {b.events_per_target:,} events each, in a SQLite store holding "
        f"{b.customers:,} customers, through the server process of section 1: "
        "`trustable.api.server.run(..., worker=False, quiet=True)`, the call `trustable "
        "serve` makes, so the app runs exactly as it does there (start-up objects frozen "
        "out of the collector with `gc.freeze`, uvicorn, one process, no access log), "
        "without the delivery thread (as `--no-worker`) and logging warnings only. "
        "Each answer decrypts, filters and returns the whole history: every event is "
        "opened with the customer's key and only the fields the purpose may use are "
        "returned; the read is logged in the ledger and committed before the answer leaves.",
        "",
        "The store was filled through Trustable's own services, nothing written behind their back:",
        "",
        f"- {b.customers:,} customers, each from one identify call (userId, anonymousId, "
        f"sign-up traits, some not in the tracking plan) through `events.service.ingest`, "
        f"{BUILD_BATCH:,} messages per committed unit of work: each has a data key, "
        "identifiers, sealed traits, an identify event and a ledger entry. "
        f"**{b.identify_s:.1f} s inside `ingest` and its commits = "
        f"{b.identify_per_s:,.0f} customers/s** ({b.identify_wall_s:.1f} s with making "
        f"and parsing the messages; {b.customers_created:,} customers created)",
        f"- {len(b.targets)} target customers spread over the pool granted `{PURPOSE}` "
        f"(`record_for_identifiers`, {b.consent_s:.2f} s for all), identified again with the "
        f"demographic traits that purpose may use, then sent {b.events_per_target:,} track "
        'calls each ("Movie Rated" with movie_id/title/rating, "Product Viewed" with '
        'product_id/sku/price, "Order Completed" with order_id/total/products; context '
        "with IP, user agent, locale, time zone) spread over the last 90 days, through "
        f"`ingest`: {b.target_events_stored:,} events stored (the identify calls included) "
        f"in {b.target_events_s:.1f} s",
        f"- data store {b.db_mib:,.0f} MiB, key store {b.keys_mib:,.1f} MiB (with WAL); "
        f"the read key holds only `read:{PURPOSE}` (`access.service.create_key`)",
        "",
        "Keep-alive `httpx` clients in the benchmark's process send `Authorization: "
        "Bearer`; each request is timed alone from send to the answer's last byte. "
        "First one read per target (cold: its data key not yet in the server's cache), "
        f"then the judged run: {h.sequential.requests:,} reads by one client, one after "
        "another, since the target is the latency of one read; then "
        f"{h.concurrent.requests:,} reads by {h.concurrent.clients} clients at once, each "
        "going round the targets from a different one, shown but not judged. Every answer "
        f"is checked: 200, the right customer, exactly {b.events_per_target:,} events each "
        "with its name and properties decrypted, the IP address never returned but listed "
        f"as withheld (not used by the purpose), traits {', '.join(PURPOSE_TRAITS)} "
        f"returned; answers weigh {h.sequential.mean_bytes / 1024:,.0f} KiB.",
        "",
        *table(
            ("reads", "count", "p50 ms", "p90 ms", "p99 ms", "max ms", "reads/s"),
            rows,
        ),
        "",
        f"With {h.concurrent.clients} clients at once (not judged) a read took p50 "
        f"{h.concurrent.ms(0.5):.1f} ms and p99 {h.concurrent.ms(0.99):.1f} ms, against "
        f"{http_p50:.1f} ms and {h.sequential.ms(0.99):.1f} ms alone; the server answered "
        f"{h.concurrent.reads_per_s:.0f} reads/s to them and "
        f"{h.sequential.reads_per_s:.0f} reads/s to one client. The server is one process, "
        "whose Python work runs one thread at a time, and this machine has "
        f"{cores}, shared with the load generator, whose clients parse and check every "
        "answer: reads sent at once wait for each other and for the clients' work. A "
        "second uvicorn worker process was measured on a 2-core machine and gave no gain "
        "with 2 clients (p50 about 45 ms either way): the cores are saturated by the "
        "server's and the clients' work together.",
        "",
        f"The same read in-process, on the same store after the server stopped "
        f"({local.reads} reads round the targets after one cold read each, medians), as "
        "the route runs it: `read_profile` in a read-only unit of work (`app.reader()`), "
        "then its ledger entry (`log_read`) committed in a short writer unit, "
        f"**{local.read_ms:.1f} ms** (p99 {local.read_p99_ms:.1f} ms); the route's JSON "
        f"answer (`access.routes._answer`, orjson, {local.json_bytes / 1024:,.0f} KiB) "
        f"{local.answer_ms:.1f} ms. Together {answer_ms:.1f} ms of the {http_p50:.1f} ms "
        "a lone client waits (p50)"
        + (
            "; the rest is FastAPI, uvicorn and the transfer. "
            if answer_ms < http_p50
            else ", within noise of all of it. "
        )
        + "A read gathers and decrypts the profile in the read-only unit and only then "
        "commits its ledger entry in a writer unit (`access.routes._logged`), so on SQLite "
        "the store's one writer lock is held for that append, not while decrypting.",
        "",
    ]
