"""Customers' rights at scale: export and erasure with 10,000 and with 100,000 customers.

An export and an erasure each concern one customer, so each should cost what that
customer holds, not what the store holds: the figures are the latency of one of each
for a customer with 1,000 events, in a store of `small` customers and again in the
same store grown to `large`, and the ratio between the two sizes.

The SQLite store is filled through Trustable's own services (`bench.reads.build`,
nothing written behind their back): `small` customers from one identify call each
through `events.service.ingest`, then 3 × `targets` of them, spread over that pool,
grant `personalize.content.profiled` (`record_for_identifiers`: a consent record,
so a consent history and a signed receipt), identify again and send `events` track
calls each through `ingest`. They are dealt round robin into three groups: the
exported (measured at both sizes, the same customers with the same data), the
erased at the small size and the erased at the large size (an erased customer is
gone, so each size needs its own). After the small size is measured, the store grows
to `large` customers with more identify calls through `ingest` (the users that
follow in the same seeded pool), and the same measurements run again.

At each size, on a freshly opened `Trustable`, after `os.sync()` (what
the build wrote reaches the disk before any clock starts) and with the objects then
alive frozen out of the collector (`gc.freeze()`, as `trustable serve` does once
started, so full collections do not walk them in the middle of an export):
1. Untimed: for each exported customer an access request is filed as the company's
   `POST /v1/requests` files it (`rights.service.open_request`, `move` to
   `verified`, `issue_token`, committed) and carried out (`runner.process`, so
   `done`); for each customer to erase, an erase request is filed and verified.
2. Exports, timed each as the route runs them, less HTTP: `log_export` (the
   export's ledger entry and a freshly signed head) in a writer unit, committed,
   then `export.export_json(app.reader, ...)` drained to its last byte. `rounds`
   rounds go round the exported customers; the first is each customer's first
   export in this process (filing the request loaded their key, as in the API).
   Checked after the clock stops:
   the document parses (orjson), names the customer and the request, holds every
   stored event decrypted, the consent history with one receipt per record, and
   every ledger entry about the customer, each with an inclusion proof verified
   against the signed head's root (`merkle.verify_inclusion`).
3. Erasures, timed each: `runner.process` of the verified erase request, what the
   API calls: in one data-store transaction every row of the customer, the
   destination notices (queued, not sent: the example policy declares no
   destination), the `erase` ledger entry and the request `processing`; then the
   data key destroyed in the key store; then the request `done`, committed.
   Checked after: the request is `done`, its counts name the events erased,
   `identity.service.customer_exists` answers None, no event row is left, and the
   data key is gone (no row in `customer_keys`, and the vault raises `KeyMissing`).
4. Not judged: the same export over real HTTP for a few customers, through the
   server process of section 6 (`bench.http_load.server_process`), with the
   request's token: `GET /v1/requests/{id}/export`, timed from send to last byte,
   after one untimed export; checked like the in-process ones.

`python -m bench.rights` runs this part alone (for working on it).
"""

from __future__ import annotations

import argparse
import base64
import gc
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from bench.http_load import server_process
from bench.reads import BUILD_BATCH, Built, Target, _identify, _ingest, _mib, _parse, build
from bench.report import Figure, figures_table, table
from bench.traffic import make_users
from bench.world import Store, new_store
from trustable.bootstrap import Trustable
from trustable.events.tables import events as events_table
from trustable.identity.service import customer_exists
from trustable.ledger import merkle
from trustable.ledger.sequencer import flush
from trustable.ledger.service import tree_size
from trustable.rights import runner
from trustable.rights.export import export_json, log_export
from trustable.rights.service import (
    Channel,
    Kind,
    RightsRequest,
    State,
    issue_token,
    move,
    open_request,
)
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import KeyMissing
from trustable.vault.tables import customer_keys

TARGET_EXPORT_P99_MS = 200.0
TARGET_ERASE_P99_MS = 50.0
TARGET_SIZE_RATIO = 1.5  # p99 with `large` customers / p99 with `small`
ACTOR = "bench"


# -- what one size measured --------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    customer_id: str
    round: int  # 0: this customer's first export in this process
    seconds: float  # log_export committed, then the document drained
    log_s: float  # log_export and its commit alone
    size: int  # bytes
    events: int
    entries: int  # ledger entries about the customer, each with a verified proof


@dataclass(frozen=True)
class Erasure:
    customer_id: str
    seconds: float  # runner.process: both steps and `done`
    events: int  # events erased, from the request's counts
    rows: int  # all rows erased, from the request's counts


@dataclass(frozen=True)
class Size:
    """One size of the store and what was measured on it."""

    customers: int
    ledger_size: int  # entries in the log when the measurements began
    db_mib: float
    keys_mib: float
    exports: list[Export]
    http_exports: list[Export]  # over HTTP, not judged (seconds from send to last byte)
    erasures: list[Erasure]

    def export_ms(self, q: float, round_: int | None = None) -> float:
        picked = [e.seconds for e in self.exports if round_ is None or e.round == round_]
        return 1000 * quantile(picked, q)

    def erase_ms(self, q: float) -> float:
        return 1000 * quantile([e.seconds for e in self.erasures], q)

    @property
    def log_ms(self) -> float:
        return 1000 * quantile([e.log_s for e in self.exports], 0.5)


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank on the sorted samples (the same rule as the other figures)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- measuring one size ------------------------------------------------------------------


def measure_size(
    store: Store,
    log_path: Path,
    *,
    customers: int,
    exported: list[Target],
    erased: list[Target],
    rounds: int,
    http_exports: int,
    events: int,
    progress: Callable[[str], None],
) -> Size:
    """File the requests, time the exports, then the erasures, then a few exports
    over HTTP (the server runs only once this process has closed its `Trustable`)."""
    app = store.open()
    # What building submitted to the ledger gets its indices, as a server's sequencer
    # would have given them by now: an export proves every entry it lists.
    flush(app)
    os.sync()  # what building wrote reaches the disk before any clock starts
    # As `trustable serve` does once started (`trustable.api.server._serve`): what is
    # alive now lives as long as the service, so full collections skip it.
    gc.collect()
    gc.freeze()
    try:
        with app.reader() as uow:
            ledger_size = tree_size(uow)
        access, tokens = _file_access_requests(app, exported)
        erase_ids = _file_erase_requests(app, erased)
        progress(
            f"  {len(exported)} exports × {rounds} rounds, in-process (log_export, then "
            "export_json drained)"
        )
        gc.collect()
        exports = [
            _export_once(app, access[target.customer_id], round_, events)
            for round_ in range(rounds)
            for target in exported
        ]
        progress(f"  {len(erased)} erasures (runner.process of a verified erase request)")
        gc.collect()
        erasures = [_erase_once(app, erase_ids[target.customer_id], events) for target in erased]
        _check_erased(app, [t.customer_id for t in erased])
    finally:
        app.close()
        gc.unfreeze()
    over_http: list[Export] = []
    if http_exports:
        progress(f"  {http_exports} exports over HTTP (GET /v1/requests/{{id}}/export)")
        over_http = _export_over_http(
            store, log_path, exported[:http_exports], access, tokens, events
        )
    return Size(
        customers=customers,
        ledger_size=ledger_size,
        db_mib=_mib(store.home, "data.db"),
        keys_mib=_mib(store.home, "keys.db"),
        exports=exports,
        http_exports=over_http,
        erasures=erasures,
    )


def _file_access_requests(
    app: Trustable, targets: list[Target]
) -> tuple[dict[str, RightsRequest], dict[str, str]]:
    """Access requests filed as `POST /v1/requests` files them, then carried out."""
    tokens: dict[str, str] = {}
    with app.uow() as uow:
        now = app.clock()
        ids: dict[str, str] = {}
        for target in targets:
            verified = _verified(app, uow, target.customer_id, Kind.access, now)
            ids[target.customer_id] = verified.request_id
            tokens[verified.request_id] = issue_token(uow, app.vault, verified, now=now)
        uow.commit()
    done = {c: runner.process(app, r, actor=ACTOR) for c, r in ids.items()}
    for request in done.values():
        if request.state is not State.done:
            raise RuntimeError(f"access request {request.request_id} ended {request.state}")
    return done, tokens


def _file_erase_requests(app: Trustable, targets: list[Target]) -> dict[str, str]:
    """Erase requests filed and verified, left for `runner.process` to carry out."""
    with app.uow() as uow:
        now = app.clock()
        ids = {
            t.customer_id: _verified(app, uow, t.customer_id, Kind.erase, now).request_id
            for t in targets
        }
        uow.commit()
    return ids


def _verified(
    app: Trustable, uow: UnitOfWork, customer_id: str, kind: Kind, now: datetime
) -> RightsRequest:
    opened = open_request(
        uow,
        app.vault,
        app.policy,
        kind=kind,
        customer_id=customer_id,
        channel=Channel.api,
        now=now,
        actor=ACTOR,
    )
    return move(uow, app.vault, opened, State.verified, actor=ACTOR, now=now)


def _export_once(app: Trustable, request: RightsRequest, round_: int, events: int) -> Export:
    """One export as `rights.routes.export` runs it, timed; checked after."""
    pieces: list[bytes] = []
    started = time.perf_counter()
    with app.uow() as uow:
        now = app.clock()
        logged = log_export(uow, app.vault, request, form="json", actor=ACTOR, now=now)
        uow.commit()
    log_done = time.perf_counter()
    size = 0
    for piece in export_json(app.reader, app.vault, app.policy, request, logged, now):
        size += len(piece)
        pieces.append(piece)
    seconds = time.perf_counter() - started
    assert request.customer_id is not None
    doc = orjson.loads(b"".join(pieces))
    found_events, entries = _check_export(doc, request, events)
    return Export(
        request.customer_id, round_, seconds, log_done - started, size, found_events, entries
    )


def _check_export(doc: dict[str, Any], request: RightsRequest, events: int) -> tuple[int, int]:
    """Events and ledger entries in a complete, correct export; raises otherwise.

    A fast wrong answer must not pass for a fast export: every event decrypted, the
    consent history with its receipts, every ledger entry with a proof that holds.
    """
    who = request.customer_id
    if doc.get("customer_id") != who or doc.get("request") != request.request_id:
        raise RuntimeError(f"export for {doc.get('customer_id')}/{doc.get('request')}, not {who}")
    found = doc["events"]
    # Each target: the sign-up identify, a second identify, then `events` track calls.
    if len(found) != events + 2:
        raise RuntimeError(f"{who}: {len(found)} events exported, expected {events + 2}")
    tracks = [e for e in found if e["type"] == "track"]
    if len(tracks) != events or not all(
        any(path.startswith("properties.") for path in e["fields"]) for e in tracks
    ):
        raise RuntimeError(f"{who}: a track call exported without its properties")
    history = doc["consent_history"]
    if not history or len(doc["receipts"]) != len(history):
        raise RuntimeError(
            f"{who}: consent history {len(history)}, receipts {len(doc['receipts'])}"
        )
    head = doc["ledger_head"]
    size = head["size"]
    root = base64.b64decode(head["root"])
    entries = doc["ledger_entries"]
    if len(entries) < len(found):  # every stored event has its `collect` entry
        raise RuntimeError(f"{who}: {len(entries)} ledger entries for {len(found)} events")
    for entry in entries:
        proof = [bytes.fromhex(h) for h in entry["inclusion_proof"]]
        leaf = bytes.fromhex(entry["leaf_hash"])
        if not merkle.verify_inclusion(leaf, entry["index"], size, proof, root):
            raise RuntimeError(f"{who}: the proof of ledger entry {entry['index']} fails")
    return len(found), len(entries)


def _erase_once(app: Trustable, request_id: str, events: int) -> Erasure:
    started = time.perf_counter()
    done = runner.process(app, request_id, actor=ACTOR)
    seconds = time.perf_counter() - started
    if done.state is not State.done:
        raise RuntimeError(f"erase request {request_id} ended {done.state}: {done.refusal}")
    counts: dict[str, int] = done.detail["erased"]
    if counts.get("events") != events + 2:  # the two identify calls, and the track calls
        raise RuntimeError(f"erase request {request_id} erased {counts.get('events')} events")
    assert done.customer_id is not None
    return Erasure(done.customer_id, seconds, counts.get("events", 0), sum(counts.values()))


def _check_erased(app: Trustable, customer_ids: list[str]) -> None:
    """Gone from the data store, their key gone from the key store."""
    with app.reader() as uow:
        for customer_id in customer_ids:
            if customer_exists(uow, customer_id) is not None:
                raise RuntimeError(f"{customer_id} still exists after erasure")
            left = uow.connection.execute(
                select(func.count())
                .select_from(events_table)
                .where(events_table.c.customer_id == customer_id)
            ).scalar_one()
            if left:
                raise RuntimeError(f"{customer_id}: {left} events left after erasure")
    with app.vault.engine.connect() as conn:
        keys = conn.execute(
            select(func.count())
            .select_from(customer_keys)
            .where(customer_keys.c.customer_id.in_(customer_ids))
        ).scalar_one()
    if keys:
        raise RuntimeError(f"{keys} data keys left after erasure")
    for customer_id in customer_ids:
        try:
            app.vault.pseudonym(customer_id)
        except KeyMissing:
            continue
        raise RuntimeError(f"the vault still opens {customer_id}'s key")


def _export_over_http(
    store: Store,
    log_path: Path,
    targets: list[Target],
    access: dict[str, RightsRequest],
    tokens: dict[str, str],
    events: int,
) -> list[Export]:
    """`GET /v1/requests/{id}/export` with each request's token, one after another."""
    done: list[Export] = []
    with server_process(store, log_path) as url, httpx.Client(base_url=url, timeout=120) as client:
        client.get("/health")
        for n, target in enumerate([targets[0], *targets]):
            request = access[target.customer_id]
            headers = {"Authorization": f"Bearer {tokens[request.request_id]}"}
            sent = time.perf_counter()
            response = client.get(f"/v1/requests/{request.request_id}/export", headers=headers)
            seconds = time.perf_counter() - sent
            if response.status_code != 200:
                raise RuntimeError(
                    f"export over HTTP: {response.status_code} {response.text[:300]}"
                )
            found, entries = _check_export(orjson.loads(response.content), request, events)
            if n:  # the first is a warm-up, not counted
                done.append(
                    Export(
                        target.customer_id, 0, seconds, 0.0, len(response.content), found, entries
                    )
                )
    return done


# -- growing the store -------------------------------------------------------------------


@dataclass(frozen=True)
class Growth:
    customers: int  # added
    seconds: float  # inside `ingest` and its commits


def grow(
    store: Store, *, start: int, end: int, seed: int, progress: Callable[[str], None]
) -> Growth:
    """Customers `start` to `end` of the same seeded pool `reads.build` drew from, one
    identify call each through `ingest`, `BUILD_BATCH` per committed unit of work."""
    users = make_users(end, random.Random(seed))[start:]
    rng = random.Random(seed + 1)
    app = store.open()
    try:
        now = app.clock()
        seconds = 0.0
        created = 0
        wall = time.perf_counter()
        for first in range(0, len(users), BUILD_BATCH):
            docs = [
                _identify(u, now - timedelta(days=120), rng)
                for u in users[first : first + BUILD_BATCH]
            ]
            took, result = _ingest(app, _parse(docs, now))
            seconds += took
            created += result.customers_created
            if (first // BUILD_BATCH) % 20 == 19:
                progress(
                    f"    {start + first + len(docs):,} customers, "
                    f"{time.perf_counter() - wall:.1f} s"
                )
    finally:
        app.close()
    if created != len(users):
        raise RuntimeError(f"{len(users):,} identify calls made {created:,} customers")
    return Growth(created, seconds)


# -- the whole measurement ---------------------------------------------------------------


@dataclass(frozen=True)
class RightsResult:
    built: Built
    growth: Growth
    small: Size
    large: Size
    targets: int  # customers measured per operation and size
    rounds: int

    # The size ratios compare typical costs (medians): a p99 over 20 to 60 samples is
    # their slowest one or two, and a ratio of two such samples measures the machine's
    # noise more than the store's size. The p99 ratios are shown beside them.
    @property
    def export_ratio(self) -> float:
        return self.large.export_ms(0.5) / self.small.export_ms(0.5)

    @property
    def erase_ratio(self) -> float:
        return self.large.erase_ms(0.5) / self.small.erase_ms(0.5)


def measure(
    store: Store,
    tmp: Path,
    *,
    small: int,
    large: int,
    targets: int,
    events: int,
    rounds: int,
    http_exports: int,
    seed: int,
    progress: Callable[[str], None],
) -> RightsResult:
    """Build at `small`, measure, grow to `large`, measure again (see the docstring)."""
    if large <= small or 3 * targets > small:
        raise ValueError("need large > small and 3 × targets ≤ small")
    built = build(
        store, customers=small, targets=3 * targets, events=events, seed=seed, progress=progress
    )
    exported, erased_small, erased_large = (built.targets[k::3] for k in range(3))
    progress(
        f"  built: {small:,} customers in {built.identify_s:.1f} s; "
        f"{built.target_events_stored:,} target events in {built.target_events_s:.1f} s"
    )
    progress(f"  measuring with {small:,} customers")
    at_small = measure_size(
        store,
        tmp / "rights-server-small.log",
        customers=small,
        exported=exported,
        erased=erased_small,
        rounds=rounds,
        http_exports=http_exports,
        events=events,
        progress=progress,
    )
    _say_size(at_small, progress)
    progress(f"  growing the store to {large:,} customers")
    growth = grow(store, start=small, end=large, seed=seed, progress=progress)
    progress(f"  measuring with {large:,} customers")
    at_large = measure_size(
        store,
        tmp / "rights-server-large.log",
        customers=large,
        exported=exported,
        erased=erased_large,
        rounds=rounds,
        http_exports=http_exports,
        events=events,
        progress=progress,
    )
    _say_size(at_large, progress)
    return RightsResult(built, growth, at_small, at_large, targets=targets, rounds=rounds)


def _say_size(size: Size, progress: Callable[[str], None]) -> None:
    http = (
        f"; over HTTP p50 {1000 * quantile([e.seconds for e in size.http_exports], 0.5):.1f} ms"
        if size.http_exports
        else ""
    )
    progress(
        f"  {size.customers:,} customers: export p50 {size.export_ms(0.5):.1f} ms, p99 "
        f"{size.export_ms(0.99):.1f} ms{http}; erasure p50 {size.erase_ms(0.5):.1f} ms, "
        f"p99 {size.erase_ms(0.99):.1f} ms"
    )


# -- figures and the section of RESULTS.md -----------------------------------------------


def size_label(customers: int) -> str:
    return f"{customers // 1000}k" if customers % 1000 == 0 else f"{customers:,}"


def figures(result: RightsResult) -> list[Figure]:
    events = result.built.events_per_target
    rows: list[Figure] = []
    for size in (result.small, result.large):
        rows.append(
            Figure(
                f"export p99 ({events:,} events, {size_label(size.customers)} customers)",
                size.export_ms(0.99),
                TARGET_EXPORT_P99_MS,
                "ms",
                higher_is_better=False,
            )
        )
    for size in (result.small, result.large):
        rows.append(
            Figure(
                f"erasure p99 ({events:,} events, {size_label(size.customers)} customers)",
                size.erase_ms(0.99),
                TARGET_ERASE_P99_MS,
                "ms",
                higher_is_better=False,
            )
        )
    between = f"{size_label(result.large.customers)} / {size_label(result.small.customers)}"
    rows.append(
        Figure(
            f"export p50 ratio, {between} customers",
            result.export_ratio,
            TARGET_SIZE_RATIO,
            "×",
            higher_is_better=False,
        )
    )
    rows.append(
        Figure(
            f"erasure p50 ratio, {between} customers",
            result.erase_ratio,
            TARGET_SIZE_RATIO,
            "×",
            higher_is_better=False,
        )
    )
    return rows


def render(result: RightsResult) -> list[str]:
    """Section 8 of RESULTS.md: exactly what was built, timed and checked."""
    b, s, g = result.built, result.small, result.large
    events = b.events_per_target
    ls, ll = size_label(s.customers), size_label(g.customers)

    def export_rows(size: Size) -> list[tuple[str, ...]]:
        first = [e.seconds for e in size.exports if e.round == 0]
        rows: list[tuple[str, ...]] = [
            (
                f"export, {size_label(size.customers)}: all rounds",
                f"{len(size.exports)}",
                f"{size.export_ms(0.5):.1f}",
                f"{size.export_ms(0.99):.1f}",
                f"{1000 * max(e.seconds for e in size.exports):.1f}",
            ),
            (
                f"export, {size_label(size.customers)}: first of each customer",
                f"{len(first)}",
                f"{1000 * quantile(first, 0.5):.1f}",
                f"{1000 * quantile(first, 0.99):.1f}",
                f"{1000 * max(first):.1f}",
            ),
        ]
        if size.http_exports:
            http = [e.seconds for e in size.http_exports]
            rows.append(
                (
                    f"export over HTTP, {size_label(size.customers)} (not judged)",
                    f"{len(http)}",
                    f"{1000 * quantile(http, 0.5):.1f}",
                    f"{1000 * quantile(http, 0.99):.1f}",
                    f"{1000 * max(http):.1f}",
                )
            )
        return rows

    def erase_row(size: Size) -> tuple[str, ...]:
        return (
            f"erasure, {size_label(size.customers)}",
            f"{len(size.erasures)}",
            f"{size.erase_ms(0.5):.1f}",
            f"{size.erase_ms(0.99):.1f}",
            f"{1000 * max(e.seconds for e in size.erasures):.1f}",
        )

    sample = s.exports[0]
    rows_erased = s.erasures[0]
    return [
        f"## 8. Customers' rights: export and erasure at {ls} and {ll} customers",
        "",
        "An export and an erasure each concern one customer, so each should cost what that "
        "customer holds, not what the store holds. Both are timed in-process, as the API's "
        "routes run them (HTTP aside), for customers with "
        f"{events:,} events, in one SQLite store measured with {s.customers:,} customers, "
        f"then grown to {g.customers:,} and measured again; the ratio of the medians between "
        "the two sizes is the check that cost does not grow with the other customers (a "
        "p99 of 20 to 60 samples is their slowest one or two: its ratio is shown too, "
        "but it measures the machine's noise more than the store's size).",
        "",
        "The store was filled through Trustable's own services (`bench.reads.build`, as in "
        "section 6), nothing written behind their back:",
        "",
        f"- {s.customers:,} customers, one identify call each through "
        f"`events.service.ingest`, {BUILD_BATCH:,} per committed unit of work "
        f"({b.identify_s:.1f} s, {b.identify_per_s:,.0f} customers/s)",
        f"- {len(b.targets)} of them, spread over those {s.customers:,}, granted "
        "`personalize.content.profiled` (`record_for_identifiers`: a consent record, so a "
        f"history and a signed receipt), identified again, and sent {events:,} track "
        'calls each ("Movie Rated", "Product Viewed", "Order Completed", properties in the '
        f"tracking plan) through `ingest` ({b.target_events_stored:,} events in "
        f"{b.target_events_s:.1f} s). Dealt round robin into three groups of "
        f"{result.targets}: exported at both sizes (the same customers and data), erased "
        f"at {ls}, erased at {ll}",
        f"- after the {ls} measurements, {result.growth.customers:,} more customers the same "
        f"way ({result.growth.seconds:.1f} s inside `ingest`); ledger "
        f"{s.ledger_size:,} entries at {ls}, {g.ledger_size:,} at {ll}; data store "
        f"{s.db_mib:,.0f} MiB then {g.db_mib:,.0f} MiB, key store {s.keys_mib:,.1f} MiB "
        f"then {g.keys_mib:,.1f} MiB (with WAL)",
        "",
        "At each size, on a freshly opened `Trustable`, after `os.sync()` "
        "(so what the build wrote is on disk before any clock starts) and with the objects "
        "alive then frozen out of the collector (`gc.freeze()`, as `trustable serve` does "
        "once started; otherwise a full collection walks the process's start-up objects in "
        "the middle of some exports, which the server never does): an access request per "
        "exported "
        "customer filed as `POST /v1/requests` files it (`open_request`, `move` to "
        "`verified`, `issue_token`) and carried out by `runner.process`, and an erase "
        "request per customer to erase, filed and verified (none of it timed). Then:",
        "",
        f"- **export**, {result.rounds} rounds round the {result.targets} exported "
        "customers, each timed alone: `log_export` (the export's ledger entry and a "
        "freshly signed tree head) in a writer unit, committed, then "
        "`export.export_json(app.reader, ...)` drained to its last byte, as "
        "`GET /v1/requests/{id}/export` streams it. Checked after the clock stopped: the "
        "document parses, names the customer and request, holds every stored event "
        f"({sample.events:,}: {events:,} track calls with their properties decrypted, and "
        "2 identify calls), the consent history with one signed receipt per record, and "
        f"every ledger entry about the customer ({sample.entries:,}), each with an inclusion "
        "proof that `merkle.verify_inclusion` accepts against the signed head. An export "
        f"weighs {sample.size / 1024:,.0f} KiB; `log_export` and its commit took p50 "
        f"{s.log_ms:.1f} ms at {ls} and {g.log_ms:.1f} ms at {ll}.",
        f"- **erasure**, one per customer of that size's group, each timed alone: "
        "`runner.process` of the verified erase request, as the API calls it: every row "
        "of the customer, the destination notices, the `erase` ledger entry and the request "
        "`processing`, in one data-store transaction; the data key destroyed in the key "
        "store; the request `done`, committed. Destination notices are only queued, never "
        "sent inside it (the example policy declares no destination, so none were). Each "
        f"erased all {rows_erased.events:,} of its customer's events, by the request's "
        f"counts (the first, {rows_erased.rows:,} rows in all). Checked after: the request "
        "`done`, `identity.service.customer_exists` answers None, no "
        "event row left, no row in `customer_keys`, and the vault raises `KeyMissing`.",
        "",
        *table(
            ("what", "count", "p50 ms", "p99 ms", "max ms"),
            [*export_rows(s), *export_rows(g), erase_row(s), erase_row(g)],
        ),
        "",
        f"Size ratios ({ll} / {ls}), judged on the medians: export p50 "
        f"**{result.export_ratio:.2f}×** (p99 {g.export_ms(0.99) / s.export_ms(0.99):.2f}×), "
        f"erasure p50 **{result.erase_ratio:.2f}×** (p99 "
        f"{g.erase_ms(0.99) / s.erase_ms(0.99):.2f}×). With {len(s.erasures)} erasures per "
        f"size the p99 is {_rank(len(s.erasures))} (nearest rank; the exports' is "
        f"{_rank(len(s.exports))} of {len(s.exports)}), so a ratio of p99s carries that "
        "sample's noise.",
        "",
        (
            "Over HTTP (not judged): the same export fetched with the request's token, "
            "`GET /v1/requests/{id}/export` with `Authorization: Bearer tr_req_…`, through "
            "the server process of section 6 (started after this process closed its store), "
            f"for {len(s.http_exports)} exported customers one after another, after one "
            "untimed export; each timed from send to the answer's last byte and checked the "
            f"same way. p50 {_ms(s.http_exports, 0.5):.1f} ms at {ls} and "
            f"{_ms(g.http_exports, 0.5):.1f} ms at {ll}, against {s.export_ms(0.5):.1f} ms "
            f"and {g.export_ms(0.5):.1f} ms in-process."
            if s.http_exports and g.http_exports
            else "Over HTTP: not measured in this run."
        ),
        "",
    ]


def _ms(exports: list[Export], q: float) -> float:
    return 1000 * quantile([e.seconds for e in exports], q)


def _rank(count: int) -> str:
    """Which sample the nearest-rank p99 of `count` samples is."""
    below = count - 1 - min(count - 1, round(0.99 * (count - 1)))
    return "the slowest" + ("" if not below else " but one" if below == 1 else f" but {below}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rights", description=__doc__)
    parser.add_argument("--small", type=int, default=10_000, help="customers, first size")
    parser.add_argument("--large", type=int, default=100_000, help="customers, second size")
    parser.add_argument("--targets", type=int, default=20, help="customers per operation and size")
    parser.add_argument("--events", type=int, default=1_000, help="track calls per target")
    parser.add_argument("--rounds", type=int, default=3, help="exports per exported customer")
    parser.add_argument("--http-exports", type=int, default=5, help="exports over HTTP per size")
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--quick", action="store_true", help="1,000 and 5,000 customers, 4 targets")
    args = parser.parse_args(argv)
    small, large, targets = (
        (1_000, 5_000, 4) if args.quick else (args.small, args.large, args.targets)
    )
    with tempfile.TemporaryDirectory(prefix="trustable-rights-") as tmp_name:
        tmp = Path(tmp_name)
        result = measure(
            new_store(tmp / "store"),
            tmp,
            small=small,
            large=large,
            targets=targets,
            events=args.events,
            rounds=args.rounds,
            http_exports=args.http_exports,
            seed=args.seed,
            progress=lambda line: print(line, flush=True),
        )
    print("\n".join(["", *figures_table(figures(result)), "", *render(result)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
