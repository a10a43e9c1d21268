"""What an analyst may ask, and what an answer holds.

A query is strict (unknown keys are refused) and small: one measure, at most one
group, an event name and a range of whole days. Its fields name the policy's declared
dimensions and measures, never a raw field path, so nothing the policy did not
declare for analytics can be asked for. An answer holds groups and numbers only:
nothing in it is a value of one person, so it may be shown, logged and kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum, StrEnum

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Measure(Enum):  # not a StrEnum: `count` would shadow str.count
    count = "count"  # how many customers (or events)
    sum = "sum"  # the total of a declared measure, clamped to its range
    distribution = "distribution"  # how many in each group of a declared dimension


class Unit(StrEnum):
    customers = "customers"
    events = "events"


class AggregateQuery(BaseModel):
    """One aggregate, e.g. `{"measure": "count", "group_by": "age", "private": true}`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"measure": "count", "of": "customers", "group_by": "age"}]
        },
    )

    measure: Measure
    of: Unit = Field(Unit.customers, description="what a count counts")
    value: str | None = Field(
        None,
        max_length=64,
        description="sum: a declared measure; distribution: a declared dimension",
    )
    group_by: str | None = Field(None, max_length=64, description="a declared dimension")
    event: str | None = Field(
        None, min_length=1, max_length=200, description="only track events of this name"
    )
    since: date | None = Field(None, description="events on or after this UTC day")
    until: date | None = Field(None, description="events on or before this UTC day")
    private: bool = Field(False, description="add OpenDP noise and spend epsilon")
    epsilon: float | None = Field(None, ge=0.01, le=10, description="what a private answer spends")

    @model_validator(mode="after")
    def _coherent(self) -> AggregateQuery:
        if self.measure is Measure.count and self.value is not None:
            raise ValueError("a count takes no `value`; use `of` (customers or events)")
        if self.measure is not Measure.count and self.value is None:
            raise ValueError(f"a {self.measure.value} needs `value`")
        if self.measure is Measure.distribution and self.value == self.group_by:
            raise ValueError("`value` and `group_by` name the same dimension")
        if self.since and self.until and self.since > self.until:
            raise ValueError("`since` is after `until`")
        if self.private and self.epsilon is None:
            raise ValueError("a private answer needs `epsilon`")
        if not self.private and self.epsilon is not None:
            raise ValueError("`epsilon` is only for a private answer (`private: true`)")
        return self

    @property
    def filtered(self) -> bool:
        """Does the query keep only some customers (and so have a complement)?"""
        return self.event is not None or self.since is not None or self.until is not None

    def shape(self) -> dict[str, object]:
        """The query as the ledger records it: names of declared things, no values."""
        return self.model_dump(mode="json", exclude_none=True)

    def fingerprint(self) -> str:
        return hashlib.sha256(orjson.dumps(self.shape(), option=orjson.OPT_SORT_KEYS)).hexdigest()


class Suppressed(StrEnum):
    small = "fewer_than_k"  # the group has fewer than k customers
    differencing = "differencing"  # it differs from the unfiltered group by fewer than k
    complementary = "complementary"  # hidden so the other hidden groups cannot be derived


@dataclass(frozen=True)
class Cell:
    """One group of an answer: its labels, and its number unless suppressed.

    `customers` is the group's (possibly noisy) number of customers, shown for a count
    of events or a sum so the reader knows what the figure stands on.
    """

    labels: tuple[str, ...]
    value: float | None
    customers: int | None
    suppressed: Suppressed | None = None


@dataclass(frozen=True)
class Answer:
    query: AggregateQuery
    k: int
    columns: tuple[str, ...]  # the names of the labels (dimensions)
    cells: tuple[Cell, ...]
    private: bool
    epsilon: float | None
    # The noise's scale per cell (Laplace b) of the value, for reading its error.
    scale: float | None
    remaining: float | None  # the analyst's budget left today, after this answer
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def released(self) -> int:
        return sum(1 for c in self.cells if c.suppressed is None)

    @property
    def suppressed(self) -> int:
        return sum(1 for c in self.cells if c.suppressed is not None)


@dataclass(frozen=True)
class Budget:
    """An analyst's privacy budget for one UTC day."""

    analyst: str
    period: str
    limit: float
    spent: float
    resets_at: datetime

    @property
    def remaining(self) -> float:
        return max(0.0, round(self.limit - self.spent, 9))


# -- over HTTP ------------------------------------------------------------------------


class CellOut(BaseModel):
    groups: dict[str, str] = Field(description="dimension -> group")
    value: float | None = Field(description="the count or sum; null when suppressed")
    customers: int | None = Field(
        None, description="customers behind a count of events or a sum (noisy when private)"
    )
    suppressed: Suppressed | None = None


class AnswerOut(BaseModel):
    query: dict[str, object]
    k: int
    private: bool
    epsilon: float | None
    noise_scale: float | None = Field(description="Laplace scale of each value's noise")
    released: int
    suppressed: int
    cells: list[CellOut]
    budget_remaining: float | None = Field(description="epsilon left today, after this")
    notes: list[str]

    @classmethod
    def of(cls, answer: Answer) -> AnswerOut:
        return cls(
            query=answer.query.shape(),
            k=answer.k,
            private=answer.private,
            epsilon=answer.epsilon,
            noise_scale=answer.scale,
            released=answer.released,
            suppressed=answer.suppressed,
            cells=[
                CellOut(
                    groups=dict(zip(answer.columns, cell.labels, strict=True)),
                    value=cell.value,
                    customers=cell.customers,
                    suppressed=cell.suppressed,
                )
                for cell in answer.cells
            ],
            budget_remaining=answer.remaining,
            notes=list(answer.notes),
        )


class BudgetOut(BaseModel):
    period: str = Field(description="the UTC day")
    limit: float
    spent: float
    remaining: float
    resets_at: datetime

    @classmethod
    def of(cls, found: Budget) -> BudgetOut:
        return cls(
            period=found.period,
            limit=found.limit,
            spent=round(found.spent, 9),
            remaining=found.remaining,
            resets_at=found.resets_at,
        )
