"""Measuring re-identification risk: equivalence classes over the quasi-identifiers.

A quasi-identifier is a trait that is harmless alone and identifying together with
others: zip code, age and gender single out most people (Sweeney 2000). Customers
who share every quasi-identifier form an equivalence class; the smallest class is
the data's k, and a person alone in their class is unique, found by anyone who knows
those three facts about them.

Records come from one of two sources, read into memory and never written anywhere:
- the store: each customer's stored traits, opened with their own key. A customer
  without a value for a quasi-identifier (never stated, or not kept because no purpose
  they permit uses it) counts as `*` for it, as does a value that does not fit its
  hierarchy (an age that is not a number): unknown, and grouped with the other
  unknowns. For an export, only customers who permit the risk section's purpose are
  read, and only the traits that purpose may use for them;
- MovieLens 100K's user file, so the risk of a real public data set can be shown
  without importing it.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import select

from trustable.consent.service import decisions_for
from trustable.core.errors import ConfigurationError, InvalidInput
from trustable.events.tables import traits
from trustable.identity.service import customers_after
from trustable.policy.schemas import RiskSpec
from trustable.policy.service import Policy
from trustable.risk.generalize import (
    Hierarchy,
    Record,
    allowed_suppressions,
    generalise,
    search,
)
from trustable.risk.schemas import (
    BUCKETS,
    Bucket,
    Generalisation,
    Level,
    Measurement,
    SourceInfo,
)
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import KeyMissing, Vault

CUSTOMERS_PER_CHUNK = 500
# MovieLens 100K's user file columns, by the trait each one is in Trustable's import.
MOVIELENS_COLUMNS = {
    "traits.age": "age",
    "traits.gender": "gender",
    "traits.occupation": "occupation",
    "traits.zip": "zip_code",
}


@dataclass(frozen=True)
class Dataset:
    """Raw quasi-identifier values and exported attributes, one row per person, in
    memory only. No id of any kind: rows are people, in no meaningful order."""

    hierarchies: tuple[Hierarchy, ...]
    attributes: tuple[str, ...]
    records: list[Record]
    extras: list[tuple[object, ...]]
    info: SourceInfo


def risk_spec(policy: Policy) -> RiskSpec:
    """The policy's `risk` section; without one there is nothing to measure."""
    spec = policy.spec.risk
    if spec is None:
        raise ConfigurationError(
            f"{policy.source}: the policy has no `risk` section declaring the "
            "quasi-identifiers and their hierarchies"
        )
    return spec


def hierarchies_of(spec: RiskSpec) -> tuple[Hierarchy, ...]:
    return tuple(Hierarchy.of(qi) for qi in spec.quasi_identifiers)


def measure_classes(keys: Iterable[tuple[str, ...]], target: int) -> Measurement:
    """k, uniques, the class-size distribution and the people below `target`."""
    sizes = Counter(keys)
    records = sum(sizes.values())
    buckets = []
    for label, low, high in BUCKETS:
        inside = [n for n in sizes.values() if n >= low and (high is None or n <= high)]
        buckets.append(Bucket(label, len(inside), sum(inside)))
    return Measurement(
        records=records,
        classes=len(sizes),
        k=min(sizes.values()) if sizes else 0,
        unique=sum(1 for n in sizes.values() if n == 1),
        distribution=tuple(buckets),
        target=target,
        below_target=sum(n for n in sizes.values() if n < target),
    )


def measure(dataset: Dataset, target: int, levels: Sequence[int] | None = None) -> Measurement:
    """The dataset's classes at `levels` (exact values when None)."""
    at = tuple(levels) if levels is not None else (0,) * len(dataset.hierarchies)
    return measure_classes(generalise(dataset.hierarchies, dataset.records, at), target)


def _unknown(hierarchies: Sequence[Hierarchy], records: Sequence[Record]) -> dict[str, int]:
    return {h.field: sum(1 for r in records if not h.fits(r[i])) for i, h in enumerate(hierarchies)}


# -- MovieLens 100K ------------------------------------------------------------------


def read_movielens(path: Path, spec: RiskSpec) -> Dataset:
    """MovieLens 100K's user file (tab-separated, RecBole header `user_id:token …`),
    with the policy's quasi-identifiers and attributes mapped to its columns."""
    hierarchies = hierarchies_of(spec)
    wanted = [h.field for h in hierarchies] + list(spec.attributes)
    missing = [f for f in wanted if f not in MOVIELENS_COLUMNS]
    if missing:
        raise InvalidInput(
            f"MovieLens has no column for {', '.join(missing)}; it has "
            + ", ".join(sorted(MOVIELENS_COLUMNS))
        )
    try:
        with path.open(encoding="latin-1", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
    except IsADirectoryError as exc:
        raise InvalidInput(f"{path}: is a folder; give the user file (ml-100k.user)") from exc
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
    if not rows:
        raise InvalidInput(f"{path}: empty; expected MovieLens 100K's user file")
    header = [h.split(":", 1)[0] for h in rows[0]]
    columns = [MOVIELENS_COLUMNS[f] for f in wanted]
    absent = [c for c in columns if c not in header]
    if absent:
        raise InvalidInput(
            f"{path}: not MovieLens 100K's user file (no column {', '.join(absent)} in its header)"
        )
    at = [header.index(c) for c in columns]
    width = len(hierarchies)
    records: list[Record] = []
    extras: list[tuple[object, ...]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise InvalidInput(f"{path}: line {line} has {len(row)} columns, not {len(header)}")
        values = [row[i] for i in at]
        records.append(tuple(values[:width]))
        extras.append(tuple(values[width:]))
    info = SourceInfo(
        name="movielens", records=len(records), unknown=_unknown(hierarchies, records)
    )
    return Dataset(hierarchies, tuple(spec.attributes), records, extras, info)


# -- the store -----------------------------------------------------------------------


@dataclass
class StoreReading:
    """Records read so far from the store, chunk by chunk (see `read_store_chunk`)."""

    records: list[Record]
    extras: list[tuple[object, ...]]
    scanned: int = 0
    skipped_no_key: int = 0
    not_permitted: int = 0


def read_store_chunk(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    spec: RiskSpec,
    chunk: Sequence[str],
    reading: StoreReading,
    *,
    for_export: bool,
) -> None:
    """Add the quasi-identifiers (and with `for_export`, the attributes) of `chunk`'s
    customers to `reading`, opened with each customer's key, in memory only.

    With `for_export`, a customer who does not permit `spec.purpose` is left out, and a
    trait that purpose may not use for them counts as unknown (fail closed).
    """
    hierarchies = hierarchies_of(spec)
    qi_names = [h.field[len("traits.") :] for h in hierarchies]
    attr_names = [a[len("traits.") :] for a in spec.attributes] if for_export else []
    names = set(qi_names) | set(attr_names)
    rows = uow.connection.execute(
        select(traits.c.customer_id, traits.c.name, traits.c.category, traits.c.value).where(
            traits.c.customer_id.in_(list(chunk)), traits.c.name.in_(sorted(names))
        )
    ).all()
    found: dict[str, dict[str, tuple[str, bytes]]] = {c: {} for c in chunk}
    for customer_id, name, category, value in rows:
        found[customer_id][name] = (category, value)
    decisions = decisions_for(uow, policy, chunk) if for_export else None
    vault.load_keys(chunk)
    for customer_id in chunk:
        reading.scanned += 1
        if decisions is not None and spec.purpose not in decisions.permitted(customer_id):
            reading.not_permitted += 1
            continue
        try:
            opened: dict[str, object] = {}
            for name, (category, sealed) in found[customer_id].items():
                if decisions is None or decisions.may(customer_id, spec.purpose, category):
                    opened[name] = orjson.loads(vault.decrypt(customer_id, "trait:" + name, sealed))
        except KeyMissing:
            reading.skipped_no_key += 1  # erased while this ran: nothing left to measure
            continue
        reading.records.append(tuple(opened.get(n) for n in qi_names))
        reading.extras.append(tuple(opened.get(n) for n in attr_names))


def store_dataset(spec: RiskSpec, reading: StoreReading, *, for_export: bool) -> Dataset:
    hierarchies = hierarchies_of(spec)
    info = SourceInfo(
        name="store",
        records=len(reading.records),
        unknown=_unknown(hierarchies, reading.records),
        skipped_no_key=reading.skipped_no_key,
        not_permitted=reading.not_permitted,
        purpose=spec.purpose if for_export else None,
    )
    attributes = tuple(spec.attributes) if for_export else ()
    return Dataset(hierarchies, attributes, reading.records, reading.extras, info)


def read_store(
    reader: Callable[[], UnitOfWork],
    vault: Vault,
    policy: Policy,
    *,
    for_export: bool,
    progress: Callable[[int], None] | None = None,
) -> Dataset:
    """Every customer's quasi-identifiers, a chunk at a time, each chunk in a read-only
    unit of work from `reader`; `progress` gets the number of customers read so far."""
    spec = risk_spec(policy)
    reading = StoreReading([], [])
    after = ""
    while True:
        with reader() as uow:
            chunk = customers_after(uow, after, CUSTOMERS_PER_CHUNK)
            if chunk:
                read_store_chunk(uow, vault, policy, spec, chunk, reading, for_export=for_export)
        if progress is not None:
            progress(reading.scanned)
        if len(chunk) < CUSTOMERS_PER_CHUNK:
            break
        after = chunk[-1]
    return store_dataset(spec, reading, for_export=for_export)


# -- reaching k ----------------------------------------------------------------------


def reach(dataset: Dataset, k: int, *, max_suppressed: float = 0.0) -> Generalisation:
    """The least lossy minimal generalisation of `dataset` reaching k (with at most
    `max_suppressed` of the records suppressed), and the classes it leaves."""
    found = search(dataset.hierarchies, dataset.records, k, max_suppressed=max_suppressed)
    node = found.chosen
    keys = generalise(dataset.hierarchies, dataset.records, node.levels)
    sizes = Counter(keys)
    after = measure_classes((key for key in keys if sizes[key] >= k), k)
    return Generalisation(
        k_target=k,
        levels=tuple(
            Level(h.field, level, h.top, h.describe(level))
            for h, level in zip(dataset.hierarchies, node.levels, strict=True)
        ),
        k=node.k,
        classes=node.classes,
        suppressed=node.suppressed,
        allowed_suppressed=allowed_suppressions(len(dataset.records), max_suppressed),
        discernibility=node.discernibility,
        height=node.height,
        evaluated=found.evaluated,
        lattice=found.lattice,
        minimal=len(found.minimal),
        after=after,
    )
