"""The collection pipeline in-process, next to plain inserts of the same rows.

The pipeline figure is `events.service.ingest` on messages parsed beforehand, one
committed unit of work per batch: identity, consent, minimization, encryption and
all its writes, without HTTP. The baseline is what a store with no checks at all
would pay for the same rows: for every message, the event row the pipeline stored
(copied: same customers, same sealed payloads, fresh message ids) and its receipt
row (`received_messages`, which every collected message leaves), inserted with one
executemany per table and one transaction per batch into the same database. Their
ratio is what trust costs. The ratio against event rows alone is reported too.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from bench.traffic import Traffic
from trustable.bootstrap import Trustable
from trustable.events.segment import Message, parse_batch
from trustable.events.service import ingest
from trustable.events.tables import events, received_messages


@dataclass(frozen=True)
class PipelineResult:
    events: int
    pipeline_s: float
    plain_rows: int
    plain_s: float
    events_only_s: float
    stored: int
    fields_kept: int
    fields_dropped: int
    customers_created: int
    mean_payload_bytes: float

    @property
    def pipeline_per_s(self) -> float:
        return self.events / self.pipeline_s

    @property
    def plain_per_s(self) -> float:
        return self.plain_rows / self.plain_s

    @property
    def ratio(self) -> float:
        return self.pipeline_per_s / self.plain_per_s

    @property
    def events_only_per_s(self) -> float:
        return self.plain_rows / self.events_only_s

    @property
    def events_only_ratio(self) -> float:
        return self.pipeline_per_s / self.events_only_per_s


def parsed_batches(
    traffic: Traffic, count: int, size: int, received_at: datetime
) -> list[list[Message]]:
    """Batches as `/v1/batch` would hand them to `ingest`, parsed before timing."""
    return [
        parse_batch(traffic.batch(size), single_type=None, received_at=received_at).messages
        for _ in range(count)
    ]


def run_ingest(app: Trustable, batches: list[list[Message]]) -> tuple[float, dict[str, int]]:
    """Ingest each batch in a committed unit of work of its own; seconds and totals."""
    totals = {"stored": 0, "fields_kept": 0, "fields_dropped": 0, "customers_created": 0}
    start = time.perf_counter()
    for messages in batches:
        with app.uow() as uow:
            result = ingest(
                uow, app.vault, app.policy, messages, now=app.clock(), actor="bench", trusted=True
            )
            uow.commit()
        totals["stored"] += result.stored
        totals["fields_kept"] += result.fields_kept
        totals["fields_dropped"] += result.fields_dropped
        totals["customers_created"] += result.customers_created
    return time.perf_counter() - start, totals


def measure(
    app: Trustable, traffic: Traffic, *, batches: int, warmup: int, size: int, seed: int
) -> PipelineResult:
    received_at = app.clock()
    run_ingest(app, parsed_batches(traffic, warmup, size, received_at))
    with app.engine.connect() as conn:
        warmup_last_id = conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()
    timed = parsed_batches(traffic, batches, size, received_at)
    pipeline_s, totals = run_ingest(app, timed)

    rows = _copies_of_stored_rows(app, after_id=warmup_last_id, count=batches * size, seed=seed)
    mean_payload = sum(len(r["payload"]) for r in rows) / len(rows)
    receipts = [
        {"customer_id": r["customer_id"], "message_id": r["message_id"], "received_at": received_at}
        for r in rows
    ]
    start = time.perf_counter()
    for offset in range(0, len(rows), size):
        with app.engine.begin() as conn:
            conn.execute(insert(events), rows[offset : offset + size])
            conn.execute(insert(received_messages), receipts[offset : offset + size])
    plain_s = time.perf_counter() - start
    for row in rows:
        row["message_id"] += "-again"
    start = time.perf_counter()
    for offset in range(0, len(rows), size):
        with app.engine.begin() as conn:
            conn.execute(insert(events), rows[offset : offset + size])
    events_only_s = time.perf_counter() - start
    return PipelineResult(
        events=batches * size,
        pipeline_s=pipeline_s,
        plain_rows=len(rows),
        plain_s=plain_s,
        events_only_s=events_only_s,
        mean_payload_bytes=mean_payload,
        **totals,
    )


def _copies_of_stored_rows(
    app: Trustable, *, after_id: int, count: int, seed: int
) -> list[dict[str, Any]]:
    """`count` rows shaped exactly like the events the pipeline stored (one per message
    received, though the pipeline stored fewer: messages with nothing kept store none)."""
    with app.engine.connect() as conn:
        stored = [
            dict(row._mapping)
            for row in conn.execute(select(events).where(events.c.id > after_id)).all()
        ]
    if not stored:
        raise RuntimeError("the pipeline stored no events: nothing to compare with")
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        row = dict(rng.choice(stored))
        del row["id"]
        row["message_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        rows.append(row)
    return rows
