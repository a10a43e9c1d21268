"""Generalisation hierarchies and the search for the least coarse one that reaches k.

Full-domain generalisation (Samarati 2001): every value of a quasi-identifier is
coarsened to the same level of its hierarchy, so a choice is one level per
quasi-identifier, a node of the lattice that is the product of the hierarchies.
Coarsening only ever merges groups, so if a node reaches k every node above it does
too: the search walks the lattice upwards by height and never evaluates a node above
one that already reached k. Among the minimal nodes that reach k (none below them
does), the one with the least information loss wins:

- first the discernibility metric (Bayardo & Agrawal 2005): the sum over groups of
  the group size squared, plus each suppressed record times the number of records.
  It counts, for each record, how many others it cannot be told apart from;
- then, to break ties, the normalised height: the mean over quasi-identifiers of
  level / top level (0 = exact, 1 = hidden);
- then the levels themselves, so the answer never depends on iteration order.

Suppression, when allowed, removes the records of groups smaller than k (outliers)
instead of coarsening everyone for their sake, as long as they are at most the
allowed share.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from trustable.core.errors import InvalidInput
from trustable.policy.schemas import QuasiIdentifierSpec

HIDDEN = "*"
# Suppressing more than this share is no longer "a few outliers": coarsen instead.
MAX_SUPPRESSED_SHARE = 0.10


@dataclass(frozen=True)
class Hierarchy:
    """How one quasi-identifier is coarsened: level 0 is the value as it is, the top
    level hides it (`*`). A value that does not fit (a non-number with bands) or is
    missing is `*` at every level: it is unknown, and groups with the other unknowns."""

    field: str
    prefix: int | None = None
    bands: tuple[int, ...] = ()

    @classmethod
    def of(cls, spec: QuasiIdentifierSpec) -> Hierarchy:
        return cls(spec.field, spec.prefix, tuple(spec.bands or ()))

    @property
    def name(self) -> str:
        """The column name: the trait's name without `traits.`."""
        return self.field.split(".", 1)[1] if "." in self.field else self.field

    @property
    def top(self) -> int:
        """The highest level, at which every value is `*`."""
        if self.prefix is not None:
            return self.prefix
        if self.bands:
            return len(self.bands) + 1
        return 1

    def describe(self, level: int) -> str:
        """A level in words, for reports: `first 3 characters`, `bands of 10`, `hidden`."""
        if level >= self.top:
            return "hidden"
        if level == 0:
            return "exact"
        if self.prefix is not None:
            kept = self.prefix - level
            return f"first {kept} character{'s' if kept != 1 else ''}"
        return f"bands of {self.bands[level - 1]}"

    def fits(self, value: object) -> bool:
        """Can this value be placed in the hierarchy (else it counts as unknown)?"""
        if value is None:
            return False
        if self.bands:
            return _number(value) is not None
        return isinstance(value, str | int | float) and str(value).strip() != ""

    def apply(self, value: object, level: int) -> str:
        """The value at `level`: `857**`, `20-29`, `M`, or `*`."""
        if level >= self.top or not self.fits(value):
            return HIDDEN
        if self.bands:
            number = _number(value)
            assert number is not None
            if level == 0:
                return str(number)
            width = self.bands[level - 1]
            low = number // width * width
            return f"{low}-{low + width - 1}"
        text = str(value).strip()
        if level == 0 or self.prefix is None:
            return text
        keep = self.prefix - level
        # The same number of stars at a level: equal here means equal first `keep`.
        return text[:keep] + HIDDEN * level


def _number(value: object) -> int | None:
    """A whole number from an int, an integral float or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


Record = tuple[object, ...]  # one person's raw quasi-identifier values, in hierarchy order


def generalise(
    hierarchies: Sequence[Hierarchy], records: Sequence[Record], levels: Sequence[int]
) -> list[tuple[str, ...]]:
    """Every record's quasi-identifiers at `levels`, in record order."""
    columns = [
        [h.apply(record[i], levels[i]) for record in records] for i, h in enumerate(hierarchies)
    ]
    return list(zip(*columns, strict=True)) if columns else [() for _ in records]


@dataclass(frozen=True)
class Node:
    """One generalisation judged: its levels, groups, suppressed records and loss."""

    levels: tuple[int, ...]
    k: int
    classes: int
    suppressed: int
    discernibility: int
    height: float

    @property
    def loss(self) -> tuple[int, float, tuple[int, ...]]:
        return (self.discernibility, self.height, self.levels)


@dataclass(frozen=True)
class Search:
    """The outcome: the chosen node, the other minimal ones, how many were evaluated."""

    chosen: Node
    minimal: tuple[Node, ...]
    evaluated: int
    lattice: int


def judge(
    hierarchies: Sequence[Hierarchy],
    records: Sequence[Record],
    levels: tuple[int, ...],
    k: int,
    allowed: int,
) -> Node | None:
    """The node at `levels` if it reaches k with at most `allowed` records suppressed."""
    sizes = Counter(generalise(hierarchies, records, levels))
    small = sum(n for n in sizes.values() if n < k)
    if small > allowed:
        return None
    kept = [n for n in sizes.values() if n >= k]
    if not kept:
        return None
    total = len(records)
    tops = [h.top for h in hierarchies]
    return Node(
        levels=levels,
        k=min(kept),
        classes=len(kept),
        suppressed=small,
        discernibility=sum(n * n for n in kept) + small * total,
        height=sum(level / top for level, top in zip(levels, tops, strict=True)) / len(tops),
    )


def allowed_suppressions(total: int, max_share: float) -> int:
    """How many records may be suppressed: at most `max_share` of them, rounded down."""
    if not 0.0 <= max_share <= MAX_SUPPRESSED_SHARE:
        raise InvalidInput(
            f"at most {MAX_SUPPRESSED_SHARE:.0%} of the records may be suppressed; "
            "coarsen the quasi-identifiers instead"
        )
    return math.floor(total * max_share + 1e-9)


def check_k(k: int) -> None:
    if k < 2:
        raise InvalidInput("k must be at least 2: k = 1 is any data set, hiding no one")


def search(
    hierarchies: Sequence[Hierarchy],
    records: Sequence[Record],
    k: int,
    *,
    max_suppressed: float = 0.0,
) -> Search:
    """The least lossy minimal full-domain generalisation reaching k (see module doc).

    Raises `InvalidInput` when no generalisation can: fewer than k records in all.
    """
    check_k(k)
    allowed = allowed_suppressions(len(records), max_suppressed)
    if len(records) < k:
        raise InvalidInput(
            f"k = {k} cannot be reached: there are only {len(records)} records, and even "
            "with every quasi-identifier hidden they form one group of that size"
        )
    tops = [h.top for h in hierarchies]
    nodes = sorted(itertools.product(*(range(top + 1) for top in tops)), key=lambda n: (sum(n), n))
    reached: set[tuple[int, ...]] = set()
    minimal: list[Node] = []
    evaluated = 0
    for levels in nodes:
        below = [
            levels[:i] + (levels[i] - 1,) + levels[i + 1 :]
            for i in range(len(levels))
            if levels[i] > 0
        ]
        if any(b in reached for b in below):
            reached.add(levels)  # above a node that reaches k: reaches it too, not minimal
            continue
        evaluated += 1
        node = judge(hierarchies, records, levels, k, allowed)
        if node is not None:
            reached.add(levels)
            minimal.append(node)
    if not minimal:  # cannot happen when len(records) >= k: the top node is one group
        raise InvalidInput(f"k = {k} cannot be reached on these records")
    chosen = min(minimal, key=lambda n: n.loss)
    return Search(chosen, tuple(sorted(minimal, key=lambda n: n.loss)), evaluated, len(nodes))
