"""What a risk measurement, a generalisation and a de-identified export report.

Counts and levels only: nothing here holds a value of a person, so every one of these
may be printed, logged or kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Group sizes reported side by side: (label, smallest size, largest size or None).
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-4", 3, 4),
    ("5-9", 5, 9),
    ("10+", 10, None),
)


@dataclass(frozen=True)
class Bucket:
    """Groups whose size falls in one range, and how many people they hold."""

    label: str
    classes: int
    people: int


@dataclass(frozen=True)
class Measurement:
    """Equivalence classes over the quasi-identifiers, at some generalisation levels.

    `k` is the size of the smallest class (0 when there are no records); `unique`
    counts the people alone in their class, whom the quasi-identifiers single out.
    """

    records: int
    classes: int
    k: int
    unique: int
    distribution: tuple[Bucket, ...]
    target: int
    below_target: int

    @property
    def unique_share(self) -> float:
        return self.unique / self.records if self.records else 0.0

    @property
    def below_target_share(self) -> float:
        return self.below_target / self.records if self.records else 0.0


@dataclass(frozen=True)
class Level:
    """One quasi-identifier's chosen level, in words."""

    field: str
    level: int
    top: int
    meaning: str


@dataclass(frozen=True)
class Generalisation:
    """The generalisation chosen to reach k, and what it costs."""

    k_target: int
    levels: tuple[Level, ...]
    k: int
    classes: int
    suppressed: int
    allowed_suppressed: int
    discernibility: int
    height: float
    evaluated: int
    lattice: int
    minimal: int
    after: Measurement

    def level_map(self) -> dict[str, int]:
        return {level.field: level.level for level in self.levels}


@dataclass(frozen=True)
class SourceInfo:
    """Where the records came from, and who was left out and why (counts only)."""

    name: str
    records: int
    unknown: dict[str, int] = field(default_factory=dict)
    skipped_no_key: int = 0
    not_permitted: int = 0
    purpose: str | None = None


@dataclass(frozen=True)
class ExportReport:
    """A written de-identified export, re-measured from the file itself."""

    path: str
    rows: int
    columns: tuple[str, ...]
    generalisation: Generalisation
    written: Measurement
    ledger_index: int | None
