"""The rule language of segments, kept small on purpose and checked strictly.

A segment is declared in the policy with words for customers, the purposes it may be
used for, and one rule:

- an **event rule** counts track events of one name whose fields meet every `where`
  condition, and holds when at least `at_least` of them happened in the last
  `within_days` days (`event: Movie Rated`, `where: {properties.rating: {gte: 4}}`);
- a **trait rule** holds while one trait meets its condition
  (`trait: traits.age`, `gte: 18`).

A condition is one or more of `equals`, `one_of`, `gte`, `gt`, `lte`, `lt` and
`contains` (a list holding the value, or a text holding it); all given must hold. A
value of the wrong kind (text compared with a number) simply does not match: a rule
never fails on what a sender put in an event. Nothing here knows the policy's
purposes or tracking plan: `policy.service` checks those meanings at load.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

SEGMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
Scalar = str | int | float | bool


class Condition(BaseModel):
    """What one field's value must be; every operator given must hold."""

    model_config = ConfigDict(extra="forbid")

    equals: Scalar | None = None
    one_of: list[Scalar] | None = Field(None, min_length=1, max_length=100)
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None
    contains: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _something_to_check(self) -> Condition:
        if all(getattr(self, op) is None for op in _OPERATORS):
            raise ValueError(
                "a condition needs at least one of equals, one_of, gte, gt, lte, lt, contains"
            )
        return self

    def holds(self, value: Any) -> bool:
        """Does `value` meet every operator given? A value of another kind: no."""
        if self.equals is not None and not _same(value, self.equals):
            return False
        if self.one_of is not None and not any(_same(value, v) for v in self.one_of):
            return False
        if self.contains is not None:
            if isinstance(value, list):
                if self.contains not in value:
                    return False
            elif not isinstance(value, str) or self.contains not in value:
                return False
        bounds = (self.gte, self.gt, self.lte, self.lt)
        if any(b is not None for b in bounds):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            if self.gte is not None and not value >= self.gte:
                return False
            if self.gt is not None and not value > self.gt:
                return False
            if self.lte is not None and not value <= self.lte:
                return False
            if self.lt is not None and not value < self.lt:
                return False
        return True


_OPERATORS = ("equals", "one_of", "gte", "gt", "lte", "lt", "contains")


def _same(value: Any, wanted: Scalar) -> bool:
    """Equal and of the same kind: `True` is not `1`, `"4"` is not `4`, 4 is 4.0."""
    if isinstance(wanted, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(wanted, bool) and value is wanted
    if isinstance(wanted, int | float):
        return isinstance(value, int | float) and value == wanted
    return isinstance(value, str) and value == wanted


class EventRule(BaseModel):
    """At least `at_least` events named `event`, meeting `where`, in `within_days`."""

    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1, max_length=200, description="a track event's name")
    where: dict[str, Condition] = Field(
        default_factory=dict, max_length=10, description="event field path -> condition"
    )
    at_least: int = Field(1, ge=1, le=10_000)
    within_days: int = Field(ge=1, le=36_500)

    def matches(self, fields: dict[str, Any]) -> bool:
        """Do an event's kept fields meet every condition? A missing field does not."""
        for path, condition in self.where.items():
            if path not in fields or not condition.holds(fields[path]):
                return False
        return True

    def paths(self) -> list[str]:
        return list(self.where)


class TraitRule(Condition):
    """A trait that meets the condition given beside it."""

    trait: str = Field(min_length=1, max_length=200, description="a `traits.*` field path")

    def paths(self) -> list[str]:
        return [self.trait]


def _kind(raw: Any) -> str | None:
    if isinstance(raw, dict):
        if "event" in raw:
            return "event"
        if "trait" in raw:
            return "trait"
    if isinstance(raw, EventRule):
        return "event"
    if isinstance(raw, TraitRule):
        return "trait"
    return None


Rule = Annotated[
    Annotated[EventRule, Tag("event")] | Annotated[TraitRule, Tag("trait")],
    Discriminator(
        _kind,
        custom_error_type="segment_rule",
        custom_error_message="a rule names either an `event` (with `within_days`) or a `trait`",
    ),
]


class SegmentSpec(BaseModel):
    """One segment: who is in it, in words for customers, and what it may be used for."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(
        min_length=1, max_length=500, description="plain words for the customers in it"
    )
    purposes: list[str] = Field(
        min_length=1, description="the only purposes the segment may be used for"
    )
    rule: Rule
