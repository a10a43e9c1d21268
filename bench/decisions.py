"""`Decisions.may` with 100,000 customers loaded: one decision's latency.

`may` sits on every read of a customer's data and (as `keeps`) on every collected
field, so its tail matters more than its mean. The consent states are written in
bulk straight into `consent_state` (recording 100,000 customers' consents one by one
through the service would only make the run slower, not the decisions different),
then loaded with `load_states` into one `Decisions`, as a read path would hold them.

Each call is timed alone with `time.perf_counter_ns`. Reading the clock twice costs
something too, so the same loop is timed around an empty function of the same
arguments and the median of that (the timer and call overhead) is subtracted from
every sample. Calls are random customers, purposes and categories; the first call
for a customer also builds that customer's permitted-purposes set, so the figures
are given for first calls and repeat calls as well as for all together.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert

from trustable.bootstrap import Trustable
from trustable.consent.service import Decisions, load_states
from trustable.consent.tables import consent_state
from trustable.core.ids import new_customer_id

STATUSES = ("granted", "denied", "withdrawn")


@dataclass(frozen=True)
class Percentiles:
    p50_us: float
    p99_us: float
    p999_us: float
    max_us: float
    count: int


@dataclass(frozen=True)
class DecisionsResult:
    customers: int
    state_rows: int
    load_s: float
    overhead_ns: float
    all_calls: Percentiles
    first_calls: Percentiles
    repeat_calls: Percentiles
    yes_share: float


def percentiles(samples_ns: list[int]) -> Percentiles:
    ordered = sorted(samples_ns)
    last = len(ordered) - 1

    def at(q: float) -> float:
        return ordered[min(last, round(q * last))] / 1000

    return Percentiles(at(0.50), at(0.99), at(0.999), ordered[-1] / 1000, len(ordered))


def _empty(customer_id: str, purpose: str, category: str) -> bool:
    """Takes what `may` takes and does nothing: times the timer and the call."""
    return False


def measure(app: Trustable, *, customers: int, calls: int, seed: int) -> DecisionsResult:
    rng = random.Random(seed)
    policy = app.policy
    purposes = list(policy.purposes)
    ids = [new_customer_id() for _ in range(customers)]
    now = app.clock()
    rows = [
        {
            "customer_id": customer_id,
            "purpose": purpose,
            "status": rng.choice(STATUSES),
            "method": "import",
            "notice_version": policy.notice_version,
            "jurisdiction": None,
            "recorded_at": now,
        }
        for customer_id in ids
        for purpose in purposes
        if policy.purposes[purpose].needs_consent and rng.random() < 0.7
    ]
    with app.engine.begin() as conn:
        for offset in range(0, len(rows), 10_000):
            conn.execute(insert(consent_state), rows[offset : offset + 10_000])

    start = time.perf_counter()
    with app.uow() as uow:
        decisions = Decisions(policy, load_states(uow, ids))
    load_s = time.perf_counter() - start

    categories = sorted(
        {c for p in policy.purposes.values() for c in p.spec.categories}
        | set(policy.spec.tracking_plan.values())
    )
    wanted = [(rng.choice(ids), rng.choice(purposes), rng.choice(categories)) for _ in range(calls)]
    seen: set[str] = set()
    first: list[bool] = []
    for customer_id, _, _ in wanted:
        first.append(customer_id not in seen)
        seen.add(customer_id)

    overhead = _timed(_empty, wanted)
    overhead_ns = sorted(overhead)[len(overhead) // 2]
    samples = [max(0, t - overhead_ns) for t in _timed(decisions.may, wanted)]
    answers = [decisions.may(*w) for w in wanted]
    return DecisionsResult(
        customers=customers,
        state_rows=len(rows),
        load_s=load_s,
        overhead_ns=overhead_ns,
        all_calls=percentiles(samples),
        first_calls=percentiles([s for s, f in zip(samples, first, strict=True) if f]),
        repeat_calls=percentiles([s for s, f in zip(samples, first, strict=True) if not f]),
        yes_share=sum(answers) / len(answers),
    )


def _timed(
    function: Callable[[str, str, str], bool], wanted: list[tuple[str, str, str]]
) -> list[int]:
    """Nanoseconds of each call, with the garbage collected beforehand (not disabled:
    a real caller does not get to switch it off either)."""
    call = function
    clock = time.perf_counter_ns
    out: list[int] = []
    append = out.append
    gc.collect()
    for customer_id, purpose, category in wanted:
        before = clock()
        call(customer_id, purpose, category)
        append(clock() - before)
    return out
