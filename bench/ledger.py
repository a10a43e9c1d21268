"""The ledger: what it costs collection, and how fast it proves things at 10^6 entries.

Transparency is only a promise if it is cheap enough to stay switched on, and a log
is only checkable if proofs stay small and quick however long it grows. So:

1. **Cost inside collection.** `events.service.ingest` submits one pending ledger
   record per collected message (`ledger.submit`, in its unit of work), and the
   sequencer later gives them their indices (`ledger.sequencer.flush`). The same
   parsed batches are ingested into two fresh copies of the seeded store, one with
   the ledger and one without, alternating in rounds (with/without, then
   without/with, …) so that drift of the machine (page cache, CPU frequency,
   neighbours) falls on both sides alike. "Without" is a benchmark-only switch:
   `ledger.submit` (the name `trustable.events.service` calls through its `ledger`
   module alias) is replaced by a no-op for those rounds and restored right after.
   Everything else `ingest` does for the ledger (building its `Record`s) still runs
   on both sides. The side with the ledger pays the whole of it: after each of its
   rounds, `flush(app)` sequences what the round submitted and signs a head, and
   that time is added to the round's. During those rounds `submit` is wrapped with
   a timer too (two clock reads per batch), which gives the time inside it.
2. **Proofs at 10^6 entries.** A log of a million entries is built in a fresh
   store through `ledger.append` itself, 10,000 records per unit of work (the build
   rate is reported too), a head is signed, and then, in one reader unit of work,
   inclusion proofs for random indices are timed one by one, checked against the
   signed root with `merkle.verify_inclusion` (also timed), and the same for
   consistency proofs from random earlier sizes to the signed one.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.pipeline import parsed_batches, run_ingest
from bench.traffic import Traffic
from bench.world import Store
from trustable.bootstrap import Trustable
from trustable.events.segment import Message
from trustable.ledger import merkle
from trustable.ledger import service as ledger_service
from trustable.ledger.sequencer import flush
from trustable.ledger.sequencing import pending_count
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

SubmitFunction = Callable[..., None]


# -- switching the ledger off, and metering it ------------------------------------


def _no_submit(
    uow: UnitOfWork, vault: Vault, records: Sequence[ledger_service.Record], *, now: datetime
) -> None:
    """What `ledger.submit` would be if there were no ledger: nothing written."""


@contextmanager
def ledger_switched_off() -> Iterator[None]:
    """Benchmark-only: collection without its ledger records, for one measurement.

    `trustable.events.service` calls `ledger.submit` through the module, so replacing
    the module's attribute is seen at once; it is put back even if ingest fails.
    """
    real: SubmitFunction = ledger_service.submit
    ledger_service.submit = _no_submit
    try:
        yield
    finally:
        ledger_service.submit = real


@dataclass
class LedgerMeter:
    """Time spent inside `ledger.submit` and sequencing, and what they handled."""

    calls: int = 0
    entries: int = 0
    seconds: float = 0.0  # inside submit
    flushes: int = 0
    sequenced: int = 0
    flush_seconds: float = 0.0


@contextmanager
def ledger_metered(meter: LedgerMeter) -> Iterator[None]:
    """The real `ledger.submit`, timed: two clock reads per batch of 100 messages is
    noise next to the ~20 ms the batch takes, and tells how much of it is the ledger."""
    real: SubmitFunction = ledger_service.submit
    clock = time.perf_counter

    def metered(
        uow: UnitOfWork, vault: Vault, records: Sequence[ledger_service.Record], *, now: datetime
    ) -> None:
        start = clock()
        try:
            real(uow, vault, records, now=now)
        finally:
            meter.seconds += clock() - start
            meter.calls += 1
            meter.entries += len(records)

    ledger_service.submit = metered
    try:
        yield
    finally:
        ledger_service.submit = real


def log_size(app: Trustable) -> int:
    """The committed tree size: how the switch and the meter are checked."""
    with app.reader() as uow:
        return ledger_service.tree_size(uow)


def pending(app: Trustable) -> int:
    with app.reader() as uow:
        return pending_count(uow)


# -- 1. cost inside collection ---------------------------------------------------------


@dataclass(frozen=True)
class CostResult:
    events: int  # per side
    rounds: int
    with_s: float  # ingest and sequencing
    without_s: float
    round_costs: list[float]  # 1 - with/without, per round
    meter: LedgerMeter
    log_before: int
    log_after: int

    @property
    def with_per_s(self) -> float:
        return self.events / self.with_s

    @property
    def without_per_s(self) -> float:
        return self.events / self.without_s

    @property
    def cost(self) -> float:
        """Share of ingest throughput the ledger takes: 1 - (with / without)."""
        return 1 - self.with_per_s / self.without_per_s

    @property
    def entries_per_s(self) -> float:
        """Ledger records submitted and sequenced per second of ingest."""
        return self.meter.entries / self.with_s

    @property
    def submit_entries_per_s(self) -> float:
        """Records per second of time spent inside `ledger.submit` itself."""
        return self.meter.entries / self.meter.seconds

    @property
    def sequenced_per_s(self) -> float:
        """Records per second of time spent in `flush` (sequencing and signing)."""
        return self.meter.sequenced / self.meter.flush_seconds

    @property
    def submit_share(self) -> float:
        """Share of the with-ledger side's time spent inside `ledger.submit`."""
        return self.meter.seconds / self.with_s

    @property
    def flush_share(self) -> float:
        """Share of the with-ledger side's time spent sequencing."""
        return self.meter.flush_seconds / self.with_s


def measure_cost(
    with_store: Store,
    without_store: Store,
    traffic: Traffic,
    *,
    batches: int,
    warmup: int,
    rounds: int,
    size: int,
) -> CostResult:
    """Ingest the same batches into two copies of one store, with and without the
    ledger, alternating which goes first each round; the side with the ledger also
    sequences what each of its rounds submitted, on the clock."""
    with_app = with_store.open()
    without_app = without_store.open()
    try:
        received_at = with_app.clock()
        warm = parsed_batches(traffic, warmup, size, received_at)
        timed = parsed_batches(traffic, batches, size, received_at)
        run_ingest(with_app, warm)
        flush(with_app)
        with ledger_switched_off():
            run_ingest(without_app, warm)
        log_before = log_size(with_app)
        untouched = (log_size(without_app), pending(without_app))

        meter = LedgerMeter()
        with_s = without_s = 0.0
        round_costs: list[float] = []
        per_round = -(-batches // rounds)
        for number, start in enumerate(range(0, batches, per_round)):
            chunk = timed[start : start + per_round]
            gc.collect()
            if number % 2 == 0:
                on = _with_ledger(with_app, chunk, meter)
                off = _without_ledger(without_app, chunk)
            else:
                off = _without_ledger(without_app, chunk)
                on = _with_ledger(with_app, chunk, meter)
            with_s += on
            without_s += off
            round_costs.append(1 - off / on)
        log_after = log_size(with_app)
        if (log_size(without_app), pending(without_app)) != untouched:
            raise RuntimeError("the ledger grew while switched off: the switch did not take")
        if log_after - log_before != meter.entries or meter.entries == 0:
            raise RuntimeError(
                f"the ledger grew by {log_after - log_before} entries, but submit was "
                f"given {meter.entries}"
            )
        if meter.sequenced != meter.entries or pending(with_app) != 0:
            raise RuntimeError(f"{meter.sequenced} records sequenced of {meter.entries} submitted")
    finally:
        with_app.close()
        without_app.close()
    return CostResult(
        events=batches * size,
        rounds=len(round_costs),
        with_s=with_s,
        without_s=without_s,
        round_costs=round_costs,
        meter=meter,
        log_before=log_before,
        log_after=log_after,
    )


def _with_ledger(app: Trustable, batches: list[list[Message]], meter: LedgerMeter) -> float:
    """Ingest, then sequence what was submitted: the ledger's whole cost, timed."""
    with ledger_metered(meter):
        seconds, _ = run_ingest(app, batches)
    start = time.perf_counter()
    flushed = flush(app)
    spent = time.perf_counter() - start
    meter.flushes += 1
    meter.sequenced += flushed.sequenced
    meter.flush_seconds += spent
    return seconds + spent


def _without_ledger(app: Trustable, batches: list[list[Message]]) -> float:
    with ledger_switched_off():
        seconds, _ = run_ingest(app, batches)
    return seconds


# -- 2. proofs at a million entries --------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Percentiles of samples taken in nanoseconds, kept in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @staticmethod
    def of(samples_ns: list[int]) -> Timing:
        ordered = sorted(samples_ns)
        last = len(ordered) - 1

        def at(q: float) -> float:
            return ordered[min(last, round(q * last))] / 1e6

        return Timing(len(ordered), at(0.50), at(0.99), ordered[-1] / 1e6)


@dataclass(frozen=True)
class ProofTimings:
    inclusion: Timing
    inclusion_hashes_max: int
    inclusion_hashes_mean: float
    inclusion_verify: Timing
    inclusion_own_uow: Timing  # a reader unit of work opened per proof, as a request does
    consistency: Timing
    consistency_hashes_max: int
    consistency_verify: Timing
    head_verify: Timing


@dataclass(frozen=True)
class ProofResult:
    size: int
    chunk: int
    build_s: float
    sign_s: float
    db_mib: float
    timings: ProofTimings

    @property
    def build_per_s(self) -> float:
        return self.size / self.build_s


def build_log(
    app: Trustable, *, entries: int, chunk: int, progress: Callable[[str], None]
) -> float:
    """Append `entries` small entries through `ledger.append`, `chunk` per committed unit
    of work; seconds spent appending and committing (building the `Record`s is not
    counted: it is the caller's work). No customer is named, so no vault key is needed."""
    now = app.clock()
    kinds = ("track", "page", "identify")
    spent = 0.0
    done = 0
    report_every = max(chunk, entries // 4)
    while done < entries:
        count = min(chunk, entries - done)
        records = [
            ledger_service.Record(
                kind="collect",
                customer_id=None,
                actor="bench",
                detail={"type": kinds[(done + n) % 3], "kept": ["user.behavior"], "n": done + n},
            )
            for n in range(count)
        ]
        start = time.perf_counter()
        with app.uow() as uow:
            ledger_service.append(uow, app.vault, records, now=now)
            uow.commit()
        spent += time.perf_counter() - start
        done += count
        if done % report_every == 0 and done < entries:
            progress(f"    {done:,} entries in {spent:.0f} s ({done / spent:,.0f}/s)")
    return spent


def measure_proofs(
    store: Store,
    *,
    entries: int,
    chunk: int,
    proofs: int,
    seed: int,
    progress: Callable[[str], None],
) -> ProofResult:
    app = store.open()
    try:
        if log_size(app) != 0:
            raise RuntimeError("the proof benchmark needs an empty log")
        build_s = build_log(app, entries=entries, chunk=chunk, progress=progress)
        start = time.perf_counter()
        with app.uow() as uow:
            head = ledger_service.sign_head(uow, app.vault, now=app.clock())
            uow.commit()
        sign_s = time.perf_counter() - start
        if head.size != entries:
            raise RuntimeError(f"signed head covers {head.size} entries, not {entries}")
        public_key = app.vault.public_key()
        timings = _time_proofs(app, head, public_key, proofs=proofs, seed=seed)
        db = Path(store.settings.database_url.removeprefix("sqlite:///"))
        db_bytes = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    finally:
        app.close()
    return ProofResult(
        size=entries,
        chunk=chunk,
        build_s=build_s,
        sign_s=sign_s,
        db_mib=db_bytes / 2**20,
        timings=timings,
    )


def _time_proofs(
    app: Trustable,
    head: ledger_service.SignedHead,
    public_key: Ed25519PublicKey,
    *,
    proofs: int,
    seed: int,
) -> ProofTimings:
    rng = random.Random(seed)
    size = head.size
    clock = time.perf_counter_ns
    indices = [rng.randrange(size) for _ in range(proofs)]
    firsts = [rng.randrange(1, size) for _ in range(max(50, proofs // 4))]
    with app.reader() as uow:
        for index in indices[:50]:  # warm-up: statement cache, first page reads
            ledger_service.inclusion_proof(uow, index, size)
        gc.collect()
        gen_ns: list[int] = []
        paths: list[list[bytes]] = []
        for index in indices:
            before = clock()
            path = ledger_service.inclusion_proof(uow, index, size)
            gen_ns.append(clock() - before)
            paths.append(path)
        leaves = [ledger_service.entry(uow, index).leaf_hash for index in indices]

        gc.collect()
        cons_ns: list[int] = []
        cons: list[list[bytes]] = []
        for first in firsts:
            before = clock()
            proof = ledger_service.consistency_proof(uow, first, size)
            cons_ns.append(clock() - before)
            cons.append(proof)
        first_roots = [ledger_service.root_at(uow, first) for first in firsts]

    own_ns: list[int] = []
    for index in indices[: max(50, proofs // 4)]:
        before = clock()
        with app.reader() as uow:
            ledger_service.inclusion_proof(uow, index, size)
        own_ns.append(clock() - before)

    verify_ns: list[int] = []
    for leaf, index, path in zip(leaves, indices, paths, strict=True):
        before = clock()
        ok = merkle.verify_inclusion(leaf, index, size, path, head.root)
        verify_ns.append(clock() - before)
        if not ok:
            raise RuntimeError(f"the inclusion proof for entry {index} does not verify")
    cons_verify_ns: list[int] = []
    for first, first_root, proof in zip(firsts, first_roots, cons, strict=True):
        before = clock()
        ok = merkle.verify_consistency(first, size, first_root, head.root, proof)
        cons_verify_ns.append(clock() - before)
        if not ok:
            raise RuntimeError(f"the consistency proof from size {first} does not verify")
    head_ns: list[int] = []
    for _ in range(200):
        before = clock()
        ok = ledger_service.verify_head(head, public_key)
        head_ns.append(clock() - before)
        if not ok:
            raise RuntimeError("the signed head does not verify")
    return ProofTimings(
        inclusion=Timing.of(gen_ns),
        inclusion_hashes_max=max(len(p) for p in paths),
        inclusion_hashes_mean=sum(len(p) for p in paths) / len(paths),
        inclusion_verify=Timing.of(verify_ns),
        inclusion_own_uow=Timing.of(own_ns),
        consistency=Timing.of(cons_ns),
        consistency_hashes_max=max(len(p) for p in cons),
        consistency_verify=Timing.of(cons_verify_ns),
        head_verify=Timing.of(head_ns),
    )
