"""Breach response at scale: the affected set of an incident over a ledger of 10^6 entries.

The world: 100,000 customers; a ledger of 10^6 entries, 800,000 of them `collect`
entries (each with its stored event, received over 90 days, with the categories the
example tracking plan gives such messages), 150,000 `share` entries (each a
delivered outbox row to the `recommender` destination) and 50,000 `retention` entries
(sweeps that deleted a few of a customer's ratings, over the same 90 days, which the
computation reads from the ledger). Rows are written straight
into the tables in bulk (what collection and delivery would have written, bodies
included); the Merkle tree's interior nodes are not built, as the computation never
reads them.

Measured: `incidents.affected.compute_affected` (one grouped SQL statement over the
stores and one pass over the ledger's `retention` entries, nothing decrypted) for a
data-store breach (two categories, every event held until the end of the window) and
for a destination breach (30 days of deliveries);
then storing the affected set (`keep_affected`, one row per customer), not judged.
Run alone with `python -m bench.incidents [--entries N] [--postgres URL]`.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from bench.report import Figure, figures_table, table
from bench.world import Store, new_store
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import example_policy_path
from trustable.destinations.tables import outbox
from trustable.events.tables import events
from trustable.incidents.affected import Affected, compute_affected, keep_affected
from trustable.incidents.service import Store as Exposure
from trustable.ledger.tables import ledger_entries
from trustable.policy.service import Policy, parse_policy
from trustable.storage.bulk import bulk_insert, driver_time
from trustable.storage.uow import UnitOfWork

TARGET_S = 5.0
ENTRIES = 1_000_000
CUSTOMERS = 100_000
SHARE_SHARE = 0.15
SWEEP_SHARE = 0.05
END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAYS = 90
CHUNK = 50_000

# (Segment type, categories kept, weight): what collection stores for typical messages.
MESSAGES = [
    ("identify", "user.contact.email user.demographic.age_range user.name", 1),
    ("track", "user.behavior user.behavior.media_consumption", 6),
    ("track", "user.behavior user.behavior.purchase_history", 1),
    ("page", "user.behavior.browsing_history user.device.ip_address", 3),
]
SHARED = "user.behavior user.behavior.media_consumption"

DESTINATION = """
destinations:
  recommender:
    url: https://recommender.example/hook
    purposes: [personalize.content.profiled]
"""


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: float
    people: int
    records: int


@dataclass(frozen=True)
class IncidentsResult:
    entries: int
    customers: int
    events: int
    shares: int
    sweeps: int
    build_s: float
    data_store: Timing
    destination: Timing
    keep_s: float
    database: str


def _policy() -> Policy:
    return parse_policy(example_policy_path().read_text() + DESTINATION)


def build(app: Trustable, *, entries: int, customers: int, seed: int) -> tuple[int, int, int]:
    """Bulk-write the world; (events, shares, sweeps)."""
    rng = random.Random(seed)
    ids = [f"cus_{n:020d}" for n in range(customers)]
    shares = int(entries * SHARE_SHARE)
    sweeps = int(entries * SWEEP_SHARE)
    stored = entries - shares - sweeps
    kinds, weights = list(range(len(MESSAGES))), [m[2] for m in MESSAGES]
    span = DAYS * 86_400
    index = 0
    media: list[tuple[str, str, float]] = []
    with app.uow() as uow:
        event_rows: list[tuple[object, ...]] = []
        entry_rows: list[tuple[object, ...]] = []

        def flush() -> None:
            bulk_insert(
                uow,
                events,
                (
                    "customer_id",
                    "message_id",
                    "type",
                    "occurred_at",
                    "received_at",
                    "categories",
                    "payload",
                ),
                event_rows,
            )
            bulk_insert(
                uow,
                ledger_entries,
                ("idx", "kind", "body", "leaf_hash", "customer_id"),
                entry_rows,
            )
            event_rows.clear()
            entry_rows.clear()

        payload = secrets.token_bytes(160)
        for _ in range(stored):
            customer = ids[rng.randrange(customers)]
            kind = MESSAGES[rng.choices(kinds, weights)[0]]
            at = END - timedelta(seconds=rng.random() * span)
            message_id = str(uuid.UUID(int=rng.getrandbits(128)))
            moment = driver_time(uow, at)
            event_rows.append((customer, message_id, kind[0], moment, moment, kind[1], payload))
            body = orjson.dumps(
                {
                    "v": 1,
                    "i": index,
                    "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "kind": "collect",
                    "subject": secrets.token_hex(16),
                    "actor": "key_bench",
                    "detail": {"type": kind[0], "kept": kind[1].split(), "dropped": {}},
                },
                option=orjson.OPT_SORT_KEYS,
            )
            entry_rows.append((index, "collect", body, secrets.token_bytes(32), customer))
            index += 1
            if kind[1] == SHARED:
                media.append((customer, message_id, at.timestamp()))
            if len(event_rows) >= CHUNK:
                flush()
        flush()
        outbox_rows: list[tuple[object, ...]] = []
        picked = rng.sample(media, min(shares, len(media)))
        for customer, message_id, stamp in picked:
            at = datetime.fromtimestamp(stamp + 60, UTC)
            moment = driver_time(uow, at)
            outbox_rows.append(
                (customer, "recommender", message_id, str(uuid.uuid4()), "delivered", 1)
                + (moment, moment, moment)
            )
            body = orjson.dumps(
                {
                    "v": 1,
                    "i": index,
                    "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "kind": "share",
                    "subject": secrets.token_hex(16),
                    "actor": "destination:recommender",
                    "detail": {
                        "destination": "recommender",
                        "purposes": ["personalize.content.profiled"],
                        "categories": SHARED.split(),
                    },
                },
                option=orjson.OPT_SORT_KEYS,
            )
            entry_rows.append((index, "share", body, secrets.token_bytes(32), customer))
            index += 1
            if len(outbox_rows) >= CHUNK:
                _outbox(uow, outbox_rows)
                flush()
        _outbox(uow, outbox_rows)
        flush()
        for _ in range(sweeps):
            at = END - timedelta(seconds=rng.random() * span)
            body = orjson.dumps(
                {
                    "v": 1,
                    "i": index,
                    "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "kind": "retention",
                    "subject": secrets.token_hex(16),
                    "actor": "retention",
                    "detail": {
                        "categories": SHARED.split(),
                        "events_deleted": rng.randrange(1, 5),
                        "events_trimmed": 0,
                        "traits_deleted": 0,
                    },
                },
                option=orjson.OPT_SORT_KEYS,
            )
            customer = ids[rng.randrange(customers)]
            entry_rows.append((index, "retention", body, secrets.token_bytes(32), customer))
            index += 1
        flush()
        uow.commit()
    with app.uow() as uow:  # fresh statistics, as a live store's would be
        if uow.dialect == "sqlite":
            uow.connection.exec_driver_sql("ANALYZE")
        else:
            uow.connection.exec_driver_sql("ANALYZE events")
            uow.connection.exec_driver_sql("ANALYZE outbox")
        uow.commit()
    return stored, len(picked), sweeps


def _outbox(uow: UnitOfWork, rows: list[tuple[object, ...]]) -> None:
    bulk_insert(
        uow,
        outbox,
        (
            "customer_id",
            "destination",
            "message_id",
            "idempotency_key",
            "state",
            "attempts",
            "next_attempt_at",
            "created_at",
            "finished_at",
        ),
        rows,
    )
    rows.clear()


def _timed(app: Trustable, policy: Policy, label: str, **kwargs: object) -> tuple[Timing, Affected]:
    with app.reader() as uow:
        started = time.perf_counter()
        found = compute_affected(uow, policy, **kwargs)  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
    return Timing(label, seconds, found.people, found.records), found


def measure(
    store: Store | None = None,
    *,
    entries: int = ENTRIES,
    customers: int = CUSTOMERS,
    seed: int = 20261101,
    postgres: str | None = None,
    progress: Callable[[str], None] = print,
) -> IncidentsResult:
    say = progress
    with tempfile.TemporaryDirectory(prefix="trustable-bench-incidents-") as tmp:
        store = store or new_store(Path(tmp) / "incidents")
        settings = store.settings
        if postgres:
            tag = secrets.token_hex(4)
            sep = "&" if "?" in postgres else "?"
            settings = replace(settings, database_url=f"{postgres}{sep}schema=bench_inc_{tag}")
        app = bootstrap(settings)
        try:
            policy = _policy()
            started = time.perf_counter()
            stored, shared, sweeps = build(app, entries=entries, customers=customers, seed=seed)
            build_s = time.perf_counter() - started
            say(
                f"  built {entries:,} ledger entries, {stored:,} events, {shared:,} deliveries, "
                f"{sweeps:,} sweeps in {build_s:.1f} s"
            )
            data_store, found = _timed(
                app,
                policy,
                "data store: email + media consumption, held in a 7-day window",
                store=Exposure.data_store,
                destination=None,
                categories=("user.contact.email", "user.behavior.media_consumption"),
                window_start=END - timedelta(days=7),
                window_end=END,
            )
            destination, _ = _timed(
                app,
                policy,
                "destination `recommender`: media consumption shared in 30 days",
                store=Exposure.destination,
                destination="recommender",
                categories=("user.behavior.media_consumption", "user.contact.email"),
                window_start=END - timedelta(days=30),
                window_end=END,
            )
            with app.uow() as uow:
                started = time.perf_counter()
                keep_affected(uow, "inc_bench", found, now=END)
                keep_s = time.perf_counter() - started
                uow.rollback()
            database = app.engine.dialect.name
        finally:
            if postgres:
                from trustable.storage.engine import drop_schema

                drop_schema(app.engine)
            app.close()
    return IncidentsResult(
        entries,
        customers,
        stored,
        shared,
        sweeps,
        build_s,
        data_store,
        destination,
        keep_s,
        database,
    )


def figures(r: IncidentsResult) -> list[Figure]:
    label = f"{r.entries / 1e6:g}M" if r.entries >= 1_000_000 else f"{r.entries:,}"
    return [
        Figure(
            f"incident affected set, data store ({label} ledger entries, {r.database})",
            r.data_store.seconds * 1000,
            TARGET_S * 1000,
            "ms",
            higher_is_better=False,
        ),
        Figure(
            f"incident affected set, destination ({label} ledger entries, {r.database})",
            r.destination.seconds * 1000,
            TARGET_S * 1000,
            "ms",
            higher_is_better=False,
        ),
    ]


def render(r: IncidentsResult) -> list[str]:
    rows = [
        (t.label, f"{t.seconds:.2f} s", f"{t.people:,}", f"{t.records:,}")
        for t in (r.data_store, r.destination)
    ]
    return [
        "",
        "## 10. Breach response: the affected set",
        "",
        f"{r.entries:,} ledger entries on {r.database}: {r.events:,} collected events of "
        f"{r.customers:,} customers over {DAYS} days, {r.shares:,} deliveries to a "
        f"destination and {r.sweeps:,} retention sweeps' entries, written in bulk in "
        f"{r.build_s:.0f} s. One grouped SQL statement per incident over the stores, and "
        "for the data store one pass over the ledger's `retention` entries (what was held "
        f"in the window and swept since), nothing decrypted; target ≤ {TARGET_S:.0f} s.",
        "",
        *table(("incident", "computed in", "customers", "records"), rows),
        "",
        f"Storing the {r.data_store.people:,} affected customers (one row each, for notices): "
        f"{r.keep_s:.2f} s, not judged.",
        "",
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.incidents")
    parser.add_argument("--entries", type=int, default=ENTRIES)
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TRUSTABLE_BENCH_POSTGRES"),
        help="measure on this PostgreSQL database instead of SQLite",
    )
    args = parser.parse_args(argv)
    result = measure(entries=args.entries, customers=args.customers, postgres=args.postgres)
    print("\n".join(render(result)))
    print("\n".join(figures_table(figures(result))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
