"""Private aggregates on MovieLens 100K: a DP count's error at epsilon = 1 beside the
exact count.

MovieLens 100K is imported into a fresh store through collection
(`demo.movielens.import_movielens`), every one of its 943 people is then recorded as
granting `analytics.reporting`, and the aggregates are read back through
`analytics.gather`, which opens each customer's traits and 100,000 ratings with their
own key, exactly as `POST /v1/aggregates` does. Then, on that population:

- counts of ratings per age band and per rating value (1-5 stars): each group of at
  least 1,000 ratings is counted exactly and privately (epsilon 1, the example
  policy's cap of 25 ratings per customer), RUNS times; the relative error of each
  private count against the exact count of the same capped query is the noise's
  error, the figure held to the target;
- the cap's own cost, beside it: the capped exact count against all ratings, and the
  noise at larger caps (a cap is what makes a count of events private per customer:
  one customer moves it by at most the cap);
- counts of customers per age band and gender (one customer, one group: the noise has
  scale 1), whose groups are all below 1,000 in a data set of 943 people; so the same
  counts of customers are also drawn over a crowd of CROWD customers collected
  through the same path (identify calls with an age and a gender, all granting
  `analytics.reporting`), where groups of 1,000 people and more exist: the DP count
  of people, held to the target beside the counts of ratings.

Run alone with `python -m bench.analytics`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bench.report import Figure, figures_table, table
from trustable.analytics.gather import Population, gather
from trustable.analytics.schemas import AggregateQuery
from trustable.analytics.service import (
    Plan,
    Tally,
    analytics_spec,
    plan,
    private_answer,
    tally,
)
from trustable.bootstrap import Trustable
from trustable.storage.uow import UnitOfWork

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
EPSILON = 1.0
RUNS = 50
LARGE = 1_000  # groups judged against the target hold at least this many
TARGET_RELATIVE_ERROR = 5.0  # %, on groups >= 1,000 at epsilon = 1
CAPS = (25, 100, 737)  # 737: the most ratings any one person made (no rating lost)
CROWD = 20_000  # customers in the crowd whose people-counts reach groups of 1,000


@dataclass(frozen=True)
class Series:
    """One query's groups: exact and capped counts, and the private counts' errors."""

    name: str
    cap: int
    exact: dict[str, int]  # every rating (or customer)
    capped: dict[str, int]  # what the private answer counts: at most `cap` per customer
    errors: dict[str, list[float]]  # relative error of each run, per group (fraction)
    suppressed: int  # private group-answers hidden for a noisy size below k

    def large(self) -> list[str]:
        return [g for g, n in self.capped.items() if n >= LARGE]

    def pooled(self) -> list[float]:
        return [e for g in self.large() for e in self.errors[g]]


@dataclass(frozen=True)
class AnalyticsResult:
    customers: int
    events: int
    import_s: float
    gather_s: float
    ratings: list[Series]
    caps: list[Series]
    people: list[Series]
    crowd: list[Series]
    crowd_s: float


def _grant(uow: UnitOfWork, app: Trustable, customer_ids: list[str], now: datetime) -> None:
    """Record each customer as granting the analytics purpose, as an import would."""
    from trustable.consent.service import ConsentMethod, ConsentStatus, record_consent

    purpose = analytics_spec(app.policy).purpose
    for customer_id in customer_ids:
        record_consent(
            uow,
            app.policy,
            vault=app.vault,
            actor="bench",
            customer_id=customer_id,
            purpose=purpose,
            status=ConsentStatus.granted,
            method=ConsentMethod.import_,
            now=now,
        )


def _population(work: Path, progress: Callable[[str], None]) -> tuple[Population, float, float]:
    from bench.world import new_store
    from trustable.demo.movielens import import_movielens
    from trustable.identity.service import find_customer

    store = new_store(work / "store")
    app: Trustable = store.open()
    try:
        progress("  importing MovieLens 100K through collection")
        started = time.perf_counter()
        summary = import_movielens(app, DATA)
        spec = analytics_spec(app.policy)
        with app.uow() as uow:
            now = app.clock()
            found = []
            for user in range(1, summary.customers + 1):
                customer = find_customer(uow, app.vault, "user_id", f"ml-{user}")
                if customer is None:
                    raise RuntimeError(f"person {user} was not imported")
                found.append(str(customer))
            _grant(uow, app, found, now)
            uow.commit()
        import_s = time.perf_counter() - started
        progress(f"  imported {summary.events:,} ratings in {import_s:.0f} s; reading back")
        started = time.perf_counter()
        with app.reader() as uow:
            population = gather(
                uow,
                app.vault,
                app.policy,
                purpose=spec.purpose,
                trait_fields=["traits.age", "traits.gender"],
                event_fields=["properties.rating"],
                with_events=True,
            )
        return population, import_s, time.perf_counter() - started
    finally:
        app.close()


def _crowd(work: Path, size: int, progress: Callable[[str], None]) -> tuple[Population, float]:
    """`size` customers told by identify calls (age 18-79, gender F or M), all granting
    `analytics.reporting`, read back as aggregates read them."""
    import random

    from bench.world import new_store
    from trustable.events.segment import parse_batch
    from trustable.events.service import ingest
    from trustable.identity.batch import IdentityBatch

    rng = random.Random(11)
    app: Trustable = new_store(work / "crowd").open()
    try:
        progress(f"  collecting a crowd of {size:,} customers (age, gender)")
        started = time.perf_counter()
        spec = analytics_spec(app.policy)
        for first in range(0, size, 1_000):
            names = [f"crowd-{n}" for n in range(first, min(size, first + 1_000))]
            now = app.clock()
            with app.uow() as uow:
                batch = IdentityBatch(uow, app.vault, now)
                batch.preload(("user_id", name) for name in names)
                ids = [batch.resolve([("user_id", name)]) for name in names]
                batch.flush()
                _grant(uow, app, ids, now)
                messages = [
                    {
                        "type": "identify",
                        "userId": name,
                        "messageId": f"{name}-identify",
                        "traits": {"age": rng.randrange(18, 80), "gender": rng.choice("FM")},
                    }
                    for name in names
                ]
                parsed = parse_batch({"batch": messages}, single_type=None, received_at=now)
                ingest(
                    uow,
                    app.vault,
                    app.policy,
                    parsed.messages,
                    now=now,
                    actor="bench",
                    trusted=True,
                )
                uow.commit()
        with app.reader() as uow:
            population = gather(
                uow,
                app.vault,
                app.policy,
                purpose=spec.purpose,
                trait_fields=["traits.age", "traits.gender"],
                event_fields=[],
                with_events=False,
            )
        return population, time.perf_counter() - started
    finally:
        app.close()


def _series(name: str, population: Population, resolved: Plan) -> Series:
    cap = resolved.spec.max_events_per_customer
    counts_events = resolved.on_events
    exact_cells = tally(population.people, resolved, filtered=True)
    capped_cells = tally(population.people, resolved, filtered=True, cap=cap)

    def size(cells: dict[tuple[str, ...], Tally], key: tuple[str, ...]) -> int:
        found = cells.get(key)
        if found is None:
            return 0
        return found.events if counts_events else len(found.customers)

    domain = resolved.domain()
    exact = {"/".join(k): size(exact_cells, k) for k in domain}
    capped = {"/".join(k): size(capped_cells, k) for k in domain}
    errors: dict[str, list[float]] = {g: [] for g in capped}
    suppressed = 0
    for _ in range(RUNS):
        answer = private_answer(population, resolved)
        for cell in answer.cells:
            group = "/".join(cell.labels)
            if cell.suppressed is not None or cell.value is None:
                suppressed += 1
                continue
            if capped[group]:
                errors[group].append(abs(cell.value - capped[group]) / capped[group])
    return Series(name, cap, exact, capped, errors, suppressed)


def measure(progress: Callable[[str], None] = print) -> AnalyticsResult:
    from trustable.core.settings import example_policy_path
    from trustable.policy.service import load_policy

    with tempfile.TemporaryDirectory(prefix="trustable-bench-analytics-") as tmp:
        population, import_s, gather_s = _population(Path(tmp), progress)
        crowd_population, crowd_s = _crowd(Path(tmp), CROWD, progress)
    policy = load_policy(example_policy_path())

    def resolved(cap: int | None = None, **query: object) -> Plan:
        found = plan(policy, AggregateQuery.model_validate({**query, "private": True,
                                                             "epsilon": EPSILON}))  # fmt: skip
        if cap is None:
            return found
        return replace(found, spec=found.spec.model_copy(update={"max_events_per_customer": cap}))

    rated = {"of": "events", "event": "Movie Rated"}
    ratings = [
        _series("ratings per age band", population,
                resolved(measure="count", group_by="age", **rated)),
        _series("ratings per star rating", population,
                resolved(measure="distribution", value="rating", **rated)),
        _series("ratings per gender", population,
                resolved(measure="count", group_by="gender", **rated)),
    ]  # fmt: skip
    caps = [
        _series(f"ratings per age band, cap {cap}", population,
                resolved(cap, measure="count", group_by="age", **rated))
        for cap in CAPS
    ]  # fmt: skip
    people = [
        _series("customers per age band", population, resolved(measure="count", group_by="age")),
        _series("customers per gender", population, resolved(measure="count", group_by="gender")),
    ]
    crowd = [
        _series(f"customers per age band ({CROWD:,} crowd)", crowd_population,
                resolved(measure="count", group_by="age")),
        _series(f"customers per gender ({CROWD:,} crowd)", crowd_population,
                resolved(measure="count", group_by="gender")),
    ]  # fmt: skip
    events = sum(len(p.events) for p in population.people)
    return AnalyticsResult(
        len(population.people), events, import_s, gather_s, ratings, caps, people, crowd, crowd_s
    )


def _pct(values: list[float], q: float | None = None) -> str:
    if not values:
        return "–"
    if q is None:
        return f"{100 * statistics.median(values):.2f}%"
    ordered = sorted(values)
    return f"{100 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.2f}%"


def pooled(r: AnalyticsResult) -> list[float]:
    return [e for s in r.ratings for e in s.pooled()]


def median_error(r: AnalyticsResult) -> float:
    return statistics.median(pooled(r))


def crowd_errors(r: AnalyticsResult) -> list[float]:
    return sorted(e for s in r.crowd for e in s.pooled())


def figures(r: AnalyticsResult) -> list[Figure]:
    errors = sorted(pooled(r))
    people = crowd_errors(r)
    return [
        Figure(
            f"DP count of customers at ε = 1, groups ≥ 1,000 ({CROWD:,} crowd), median",
            100 * statistics.median(people),
            TARGET_RELATIVE_ERROR,
            "%",
            higher_is_better=False,
        ),
        Figure(
            f"DP count of customers at ε = 1, groups ≥ 1,000 ({CROWD:,} crowd), max",
            100 * max(people),
            TARGET_RELATIVE_ERROR,
            "%",
            higher_is_better=False,
        ),
        Figure(
            "DP count error at ε = 1, groups ≥ 1,000 (ML-100K ratings), median",
            100 * statistics.median(errors),
            TARGET_RELATIVE_ERROR,
            "%",
            higher_is_better=False,
        ),
        Figure(
            "DP count error at ε = 1, groups ≥ 1,000 (ML-100K ratings), 95th percentile",
            100 * errors[min(len(errors) - 1, int(0.95 * len(errors)))],
            TARGET_RELATIVE_ERROR,
            "%",
            higher_is_better=False,
        ),
        Figure(
            "DP count error at ε = 1, groups ≥ 1,000 (ML-100K ratings), max",
            100 * max(errors),
            TARGET_RELATIVE_ERROR,
            "%",
            higher_is_better=False,
        ),
    ]


def render(r: AnalyticsResult) -> list[str]:
    rows = []
    for s in r.ratings + r.people + r.crowd:
        for group in s.capped:
            if not s.exact[group] and not s.capped[group]:
                continue
            rows.append(
                (
                    s.name,
                    group,
                    f"{s.exact[group]:,}",
                    f"{s.capped[group]:,}",
                    _pct(s.errors[group]),
                    _pct(s.errors[group], 1.0),
                )
            )
    cap_rows = []
    for s in r.caps:
        total, kept = sum(s.exact.values()), sum(s.capped.values())
        cap_rows.append(
            (
                f"{s.cap}",
                f"{kept:,} of {total:,} ({kept / total:.0%})",
                f"{len(s.large())}",
                _pct(s.pooled()),
                _pct(s.pooled(), 1.0),
            )
        )
    errors = pooled(r)
    return [
        "## 11. Private aggregates on MovieLens 100K",
        "",
        f"MovieLens 100K imported through collection into a fresh store "
        f"({r.import_s:.0f} s, consents included), its {r.customers} people granting "
        f"`analytics.reporting`; reading them back for aggregates (opening every trait "
        f"and {r.events:,} events with each customer's key) took {r.gather_s:.1f} s. "
        f"Each private count was drawn {RUNS} times at ε = {EPSILON:g} (OpenDP's discrete "
        "Laplace); its error is against the exact count of the same query, in which each "
        "customer adds at most the policy's cap of ratings (25), so that one customer "
        "moves any count by at most 25: three quarters of ε go to the counts (noise scale "
        "25 / 0.75 = 33), one quarter to the noisy numbers of customers that decide "
        "suppression (scale 4: a group shows from 10 + 3 × 4 = 22 noisy customers; "
        "hidden ones are left out of the errors). Counts of customers spend all of ε on "
        "themselves: scale 1, shown from 13.",
        "",
        *table(
            ("query", "group", "exact (all)", "exact (capped)", "median error", "max error"),
            rows,
        ),
        "",
        f"Over all groups of at least {LARGE:,} (capped) ratings and {RUNS} runs: median "
        f"{_pct(errors)}, 95th percentile {_pct(errors, 0.95)}, max {_pct(errors, 1.0)}. "
        "A count of ratings is private per customer only through the cap: its noise is "
        "25 times a count of people's, and its largest errors over "
        f"{RUNS} draws come from the tail of that noise on the smallest large groups.",
        "",
        f"Counts of people over a crowd of {CROWD:,} customers (collected and read back in "
        f"{r.crowd_s:.0f} s), groups of at least {LARGE:,} people, {RUNS} runs: median "
        f"{_pct(crowd_errors(r))}, max {_pct(crowd_errors(r), 1.0)}.",
        "",
        "What the cap costs (ratings per age band): a larger cap loses fewer ratings and "
        "adds more noise.",
        "",
        *table(
            ("cap", "ratings counted", "groups ≥ 1,000", "median error", "max error"), cap_rows
        ),  # fmt: skip
        "",
    ]


def main() -> int:
    result = measure()
    print("\n".join(render(result)))
    print("\n".join(figures_table(figures(result))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
