"""Answering an aggregate: exact with suppression, or differentially private.

Exact answers show a group only when it holds at least k customers. Beyond that, a
group is hidden when it differs from the same group without the query's filters by
fewer than k customers (comparing the two would single those out), and a filtered
query is refused whole when it keeps, or leaves out, fewer than k of the customers
who could be counted. When the hidden groups together hold fewer than k customers,
the next smallest is hidden too, so that no total can give them away.

That is what can be enforced answer by answer. Two filtered queries that differ from
each other by fewer than k people while each differs from the unfiltered population by
k or more (two day ranges one day apart, say) are held apart by `audit`: each exact
answer is compared, on today's data, with the same analyst's exact answers of the
same kind that day. Across analysts, across days, and across changes in the data
between two answers (a customer who joined or left in between), only noise stops
differencing. A private answer adds OpenDP noise scaled to what
one customer can change (each customer's events are capped, sums clamped), hides
groups whose noisy size is below k, and spends epsilon from the analyst's budget,
which is what bounds any sequence of questions. A policy with `exact: false` allows
private answers only.

`prepare` reads and computes in a read-only unit; `settle` spends the budget and
writes the `aggregate` ledger entry in the caller's unit of work, which commits
before the answer is shown.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from trustable.analytics import noise
from trustable.analytics.audit import (
    MAX_EXACT_PER_DAY,
    Part,
    differences,
    earlier_answers,
    remember,
)
from trustable.analytics.budget import BudgetExhausted, budget, spend
from trustable.analytics.gather import Person, Population, Seen, gather
from trustable.analytics.schemas import (
    AggregateQuery,
    Answer,
    Budget,
    Cell,
    Measure,
    Suppressed,
    Unit,
)
from trustable.core.errors import ConfigurationError, InvalidInput
from trustable.ledger import service as ledger
from trustable.policy.schemas import AnalyticsSpec, DimensionSpec, MeasureSpec
from trustable.policy.service import MAX_ANALYTICS_GROUPS, Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

OTHER = "other"
# Of a private answer's epsilon, what goes to the group sizes that decide suppression
# when the value is not itself a count of customers.
SIZING_SHARE = 0.25
# A private group shows when its noisy size is at least k plus this many noise scales.
MARGIN = 3.0
UNKNOWN = "unknown"


class QueryRefused(InvalidInput):
    """The query is well formed, but answering it could single a person out."""

    code = "query_refused"
    status = 422


def analytics_spec(policy: Policy) -> AnalyticsSpec:
    spec = policy.spec.analytics
    if spec is None:
        raise ConfigurationError(
            f"{policy.source}: the policy has no `analytics` section declaring what "
            "aggregates may group by and sum"
        )
    return spec


# -- the query, resolved against the policy -----------------------------------------


@dataclass(frozen=True)
class Dimension:
    name: str
    spec: DimensionSpec

    @property
    def on_events(self) -> bool:
        return self.spec.field.startswith("properties.")

    def labels(self) -> tuple[str, ...]:
        """Every group, declared in advance: a private answer releases each."""
        if self.spec.values is not None:
            return (*self.spec.values, OTHER, UNKNOWN)
        width, top = self.spec.bands or 1, self.spec.up_to or 0
        bands = [f"{low}-{low + width - 1}" for low in range(0, top, width)]
        return (*bands, f"{top}+", OTHER, UNKNOWN)

    def label(self, value: Any) -> str:
        if value is None:
            return UNKNOWN
        if self.spec.values is not None:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            text = str(value)
            if self.spec.prefix is not None:
                text = text[: self.spec.prefix]
            return text if text in self.spec.values else OTHER
        try:
            number = float(value)
        except (TypeError, ValueError):
            return OTHER
        if number != number or number < 0:  # NaN or negative
            return OTHER
        width, top = self.spec.bands or 1, self.spec.up_to or 0
        if number >= top:
            return f"{top}+"
        low = int(number) // width * width
        return f"{low}-{low + width - 1}"


@dataclass(frozen=True)
class Plan:
    query: AggregateQuery
    spec: AnalyticsSpec
    dimensions: tuple[Dimension, ...]
    summed: MeasureSpec | None

    @property
    def on_events(self) -> bool:
        """Does the answer count events (rather than one row per customer)?"""
        return (
            self.query.of is Unit.events
            or any(d.on_events for d in self.dimensions)
            or (self.summed is not None and self.summed.field.startswith("properties."))
        )

    @property
    def trait_fields(self) -> list[str]:
        fields = [d.spec.field for d in self.dimensions]
        if self.summed is not None:
            fields.append(self.summed.field)
        return [f for f in fields if f.startswith("traits.")]

    @property
    def event_fields(self) -> list[str]:
        fields = [d.spec.field for d in self.dimensions]
        if self.summed is not None:
            fields.append(self.summed.field)
        return [f for f in fields if f.startswith("properties.")]

    def domain(self) -> list[tuple[str, ...]]:
        return list(itertools.product(*(d.labels() for d in self.dimensions)))


def plan(policy: Policy, query: AggregateQuery) -> Plan:
    """Resolve names against the policy's declarations; refuse anything undeclared."""
    spec = analytics_spec(policy)

    def dimension(name: str, role: str) -> Dimension:
        found = spec.dimensions.get(name)
        if found is None:
            raise InvalidInput(
                f"{role}: '{name}' is not a dimension the policy declares for analytics; "
                f"choose one of {', '.join(sorted(spec.dimensions)) or '(none declared)'}",
                code="unknown_dimension",
            )
        return Dimension(name, found)

    dims: list[Dimension] = []
    if query.group_by is not None:
        dims.append(dimension(query.group_by, "group_by"))
    summed: MeasureSpec | None = None
    if query.measure is Measure.distribution and query.value is not None:
        dims.append(dimension(query.value, "value"))
    if query.measure is Measure.sum and query.value is not None:
        summed = spec.measures.get(query.value)
        if summed is None:
            raise InvalidInput(
                f"value: '{query.value}' is not a measure the policy declares for analytics; "
                f"choose one of {', '.join(sorted(spec.measures)) or '(none declared)'}",
                code="unknown_measure",
            )
    if query.event is not None:
        category = policy.name_category(query.event)
        found = policy.purpose(spec.purpose)
        if category is None or found is None or not found.uses(category):
            raise InvalidInput(
                f"event: what this event's name says ({category or 'undeclared'}) is not "
                f"data '{spec.purpose}' may use",
                code="event_not_allowed",
            )
    if query.private:
        if query.epsilon is not None and query.epsilon > spec.max_epsilon:
            raise InvalidInput(
                f"epsilon: at most {spec.max_epsilon:g} per query (the policy's max_epsilon)",
                code="epsilon_too_large",
            )
    elif not spec.exact:
        raise QueryRefused(
            "the policy allows only private answers here: set `private: true` and `epsilon`"
        )
    result = Plan(query, spec, tuple(dims), summed)
    groups = 1
    for d in dims:
        groups *= len(d.labels())
    if groups > MAX_ANALYTICS_GROUPS:
        raise InvalidInput(f"{groups} groups; at most {MAX_ANALYTICS_GROUPS} per answer")
    return result


# -- tallying -------------------------------------------------------------------------


@dataclass
class Tally:
    customers: set[int] = field(default_factory=set)
    events: int = 0
    total: float = 0.0


def _clamp(value: Any, measure: MeasureSpec) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number:  # NaN
        return None
    return min(max(number, measure.low), measure.high)


def _matches(seen: Seen, query: AggregateQuery) -> bool:
    if query.event is not None and seen.name != query.event:
        return False
    if query.since is not None and seen.day < query.since:
        return False
    return not (query.until is not None and seen.day > query.until)


def tally(
    people: Sequence[Person], plan: Plan, *, filtered: bool, cap: int | None = None
) -> dict[tuple[str, ...], Tally]:
    """Each group's customers, events and clamped sum (for a sum, only customers and
    events holding a value are in a group). `filtered=False` tallies the
    same groups without the query's filters (what differencing compares against);
    `cap` keeps at most that many of each customer's events (oldest first)."""
    query = plan.query
    cells: dict[tuple[str, ...], Tally] = {}
    summed = plan.summed
    summed_on_trait = summed is not None and summed.field.startswith("traits.")

    def cell(key: tuple[str, ...]) -> Tally:
        found = cells.get(key)
        if found is None:
            found = cells[key] = Tally()
        return found

    for index, person in enumerate(people):
        if plan.on_events:
            seen = [e for e in person.events if _matches(e, query)] if filtered else person.events
            if cap is not None:
                seen = seen[:cap]
            for event in seen:
                key = tuple(
                    d.label(event.fields.get(d.spec.field) if d.on_events else
                            person.traits.get(d.spec.field))
                    for d in plan.dimensions
                )  # fmt: skip
                value = 0.0
                if summed is not None:
                    raw = person.traits if summed_on_trait else event.fields
                    found = _clamp(raw.get(summed.field), summed)
                    if found is None:
                        continue  # no value: not behind the sum, so not in its group
                    value = found
                target = cell(key)
                first = index not in target.customers
                target.customers.add(index)
                target.events += 1
                if first or not summed_on_trait:  # a trait adds once per group
                    target.total += value
        else:
            if filtered and query.filtered and not any(_matches(e, query) for e in person.events):
                continue
            value = 0.0
            if summed is not None:
                found = _clamp(person.traits.get(summed.field), summed)
                if found is None:
                    continue
                value = found
            key = tuple(d.label(person.traits.get(d.spec.field)) for d in plan.dimensions)
            target = cell(key)
            target.customers.add(index)
            target.total += value
    return cells


def _value(plan: Plan, found: Tally) -> float:
    if plan.query.measure is Measure.sum:
        return found.total
    if plan.query.of is Unit.events:
        return float(found.events)
    return float(len(found.customers))


# -- exact answers --------------------------------------------------------------------


def part_of(person: Person, plan: Plan) -> Part:
    """One customer's own part in an answer: their events and clamped sum per group."""
    return {key: (t.events, t.total) for key, t in tally([person], plan, filtered=True).items()}


def exact_answer(population: Population, plan: Plan, earlier: Sequence[Plan] = ()) -> Answer:
    k = plan.spec.k
    query = plan.query
    cells = tally(population.people, plan, filtered=True)
    counted: set[int] = set().union(*(c.customers for c in cells.values())) if cells else set()
    everyone = len(population.people)
    if len(counted) < k:
        raise QueryRefused(
            f"the query counts fewer than {k} customers (the policy's k): it could single "
            "a person out"
        )
    left_out = everyone - len(counted)
    if query.filtered and 0 < left_out < k:
        raise QueryRefused(
            f"the query's filters leave out fewer than {k} customers (the policy's k): "
            "compared with the same query unfiltered, it would single them out"
        )
    base = tally(population.people, plan, filtered=False) if query.filtered else cells
    why: dict[tuple[str, ...], Suppressed] = {}
    empty = Tally()
    for key in plan.domain():
        found = cells.get(key, empty)
        size = len(found.customers)
        if size < k:
            why[key] = Suppressed.small
        elif query.filtered and 0 < len(base.get(key, empty).customers) - size < k:
            why[key] = Suppressed.differencing
    if earlier:
        parts = [part_of(p, plan) for p in population.people]
        for before in earlier:
            overall, per_group = differences(
                parts,
                [part_of(p, before) for p in population.people],
                grouped_alike=before.query.group_by == query.group_by,
            )
            if 0 < overall < k:
                raise QueryRefused(
                    f"fewer than {k} customers (the policy's k) count differently in this "
                    "query and in an exact answer you had today: comparing the two would "
                    "single them out; ask for a private answer instead"
                )
            for key, n in per_group.items():
                if 0 < n < k and key not in why:
                    why[key] = Suppressed.differencing
    _complement(plan, cells, why)
    out = []
    for key in plan.domain():
        if key in why:
            out.append(Cell(key, None, None, why[key]))
            continue
        found = cells[key]
        shown = len(found.customers) if plan.query.of is Unit.events or plan.summed else None
        out.append(Cell(key, _value(plan, found), shown))
    return Answer(
        query=query,
        k=k,
        columns=tuple(d.name for d in plan.dimensions),
        cells=tuple(out),
        private=False,
        epsilon=None,
        scale=None,
        remaining=None,
        notes=_notes(population),
    )


def _complement(
    plan: Plan, cells: dict[tuple[str, ...], Tally], why: dict[tuple[str, ...], Suppressed]
) -> None:
    """Hide more groups until the hidden ones hold none or at least k customers: a
    total known from another answer minus the shown groups must not reveal them."""
    empty = Tally()
    while True:
        hidden: set[int] = set()
        for key in why:
            hidden |= cells.get(key, empty).customers
        if not hidden or len(hidden) >= plan.spec.k:
            return
        shown = [key for key in plan.domain() if key not in why and key in cells]
        if not shown:
            return
        smallest = min(shown, key=lambda key: len(cells[key].customers))
        why[smallest] = Suppressed.complementary


def _notes(population: Population) -> tuple[str, ...]:
    notes = []
    if population.not_permitted:
        notes.append("customers who do not permit analytics are not counted")
    if population.not_vouched:
        notes.append(
            "customers known only through a public write key are not counted: anyone "
            "can make such customers up"
        )
    return tuple(notes)


# -- private answers ------------------------------------------------------------------


def private_answer(population: Population, plan: Plan) -> Answer:
    """Noisy values over every declared group, hidden where the noisy number of
    customers is below k: all of it post-processing of OpenDP's output."""
    query = plan.query
    epsilon = float(query.epsilon or 0.0)
    cap = plan.spec.max_events_per_customer
    domain = plan.domain()
    cells = tally(population.people, plan, filtered=True, cap=cap if plan.on_events else None)
    empty = Tally()
    # How many groups one customer can be in: one, unless groups come from events.
    reach = min(len(domain), cap) if any(d.on_events for d in plan.dimensions) else 1
    counts_customers = query.measure is not Measure.sum and query.of is Unit.customers
    # A count of customers is its own group size. Otherwise a quarter of epsilon buys
    # the noisy group sizes that decide suppression (a coarse threshold needs little)
    # and the rest buys the values.
    sizing = epsilon if counts_customers else epsilon * SIZING_SHARE
    share = epsilon if counts_customers else epsilon - sizing
    people = noise.noisy_counts([len(cells.get(k, empty).customers) for k in domain], reach, sizing)
    # Shown only well above k: a group one customer short of k passes with a chance of
    # about e^-3 / 2, a group of one almost never.
    threshold = plan.spec.k + math.ceil(MARGIN * noise.count_scale(reach, sizing))
    scale: float
    if counts_customers:
        values = [float(v) for v in people]
        scale = noise.count_scale(reach, share)
    elif query.measure is Measure.sum and plan.summed is not None:
        bound = max(abs(plan.summed.low), abs(plan.summed.high))
        on_trait = plan.summed.field.startswith("traits.")
        sensitivity = bound * (reach if on_trait else cap)
        values = noise.noisy_sums([cells.get(k, empty).total for k in domain], sensitivity, share)
        scale = noise.sum_scale(sensitivity, share)
    else:
        counted = [cells.get(k, empty).events for k in domain]
        values = [float(v) for v in noise.noisy_counts(counted, cap, share)]
        scale = noise.count_scale(cap, share)
    out = []
    for key, size, value in zip(domain, people, values, strict=True):
        if size < threshold:
            out.append(Cell(key, None, None, Suppressed.small))
        elif query.measure is Measure.sum:
            out.append(Cell(key, round(value, 2), size))
        else:
            out.append(Cell(key, float(max(0, round(value))), None if counts_customers else size))
    notes = list(_notes(population))
    notes.append(f"a group shows when its noisy number of customers is at least {threshold}")
    if plan.on_events:
        notes.append(f"each customer adds at most {cap} events (their oldest) to this answer")
    if plan.summed is not None:
        notes.append(f"values are clamped to {plan.summed.low:g}..{plan.summed.high:g}")
    return Answer(
        query=query,
        k=plan.spec.k,
        columns=tuple(d.name for d in plan.dimensions),
        cells=tuple(out),
        private=True,
        epsilon=epsilon,
        scale=scale,
        remaining=None,
        notes=tuple(notes),
    )


# -- the whole way --------------------------------------------------------------------


def prepare(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    query: AggregateQuery,
    *,
    analyst: str,
    now: datetime,
) -> Answer:
    """Check, read and compute an answer (in a read-only unit); `settle` must commit
    its spend and ledger entry before the answer is shown."""
    resolved = plan(policy, query)
    if query.private:
        left = budget(uow, resolved.spec, analyst, now=now)
        if float(query.epsilon or 0.0) > left.remaining + 1e-9:
            raise BudgetExhausted(
                f"this answer would spend epsilon {query.epsilon:g} and only "
                f"{left.remaining:g} of today's {left.limit:g} is left; the budget resets "
                f"at {left.resets_at.strftime('%Y-%m-%d %H:%M')} UTC"
            )
    earlier: list[Plan] = []
    if not query.private:
        answered = earlier_answers(uow, analyst, query, now=now)
        if len(answered) >= MAX_EXACT_PER_DAY:
            raise QueryRefused(
                f"you had {MAX_EXACT_PER_DAY} exact answers of this kind today, the most "
                "each new one is held against; ask for a private answer instead"
            )
        earlier = _resolvable(policy, answered)
    population = gather(
        uow,
        vault,
        policy,
        purpose=resolved.spec.purpose,
        trait_fields=resolved.trait_fields,
        event_fields=resolved.event_fields,
        with_events=any(p.on_events or p.query.filtered for p in [resolved, *earlier]),
    )
    if query.private:
        return private_answer(population, resolved)
    return exact_answer(population, resolved, earlier)


def _resolvable(policy: Policy, queries: Sequence[AggregateQuery]) -> list[Plan]:
    """Earlier queries as the policy reads them now (one it no longer declares, with
    a dimension since removed, cannot be asked again, so it is left out)."""
    found = []
    for query in queries:
        try:
            found.append(plan(policy, query))
        except InvalidInput:
            continue
    return found


def settle(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    answer: Answer,
    *,
    analyst: str,
    now: datetime,
) -> Answer:
    """Spend the answer's epsilon (refused if it no longer fits) and write its
    `aggregate` ledger entry: the query's shape and counts, never a value."""
    spec = analytics_spec(policy)
    left: Budget | None = None
    if not answer.private:
        remember(uow, analyst, answer.query, now=now)
    if answer.private and answer.epsilon is not None:
        left = spend(
            uow, spec, analyst, answer.epsilon, fingerprint=answer.query.fingerprint(), now=now
        )
    ledger.submit(
        uow,
        vault,
        [
            ledger.Record(
                kind="aggregate",
                customer_id=None,
                actor=analyst,
                detail={
                    "query": answer.query.shape(),
                    "private": answer.private,
                    "epsilon": answer.epsilon,
                    "k": answer.k,
                    "groups": answer.released,
                    "suppressed": answer.suppressed,
                },
            )
        ],
        now=now,
    )
    return replace(answer, remaining=left.remaining if left is not None else None)
