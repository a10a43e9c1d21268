"""De-identified exports: a CSV file in which every row shares its quasi-identifiers
with at least k - 1 others.

What the file holds: the quasi-identifiers at the chosen generalisation levels and the
policy's declared attributes (traits assumed unknown to an attacker), one row per
person, rows in a random order (so the order cannot be joined back to sign-up order
or customer ids). No customer id, identifier, pseudonym or timestamp. Records of
groups still smaller than k (only when suppression is allowed) are left out.

The file is written beside its destination under a temporary name, read back and
measured again: only if that measurement reaches k is it moved into place (after the
ledger entry of an export from the store is committed). An export that cannot reach
k writes nothing.
"""

from __future__ import annotations

import csv
import os
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from trustable.core.errors import InvalidInput
from trustable.core.files import create_private
from trustable.ledger import service as ledger
from trustable.risk.generalize import check_k, generalise
from trustable.risk.schemas import ExportReport, Generalisation, Measurement, SourceInfo
from trustable.risk.service import Dataset, measure_classes, reach
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

LEDGER_KIND = "deidentified_export"
# A cell a spreadsheet would run as a formula starts with one of these (OWASP CSV
# injection): such a cell is written with a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def columns_of(dataset: Dataset) -> tuple[str, ...]:
    """The file's header: quasi-identifiers, then attributes, by trait name."""
    names = [h.name for h in dataset.hierarchies]
    names += [a.split(".", 1)[1] if "." in a else a for a in dataset.attributes]
    return tuple(names)


def export_rows(dataset: Dataset, chosen: Generalisation) -> list[tuple[str, ...]]:
    """One row per person kept, generalised, in a random order."""
    levels = tuple(level.level for level in chosen.levels)
    keys = generalise(dataset.hierarchies, dataset.records, levels)
    sizes = Counter(keys)
    rows = [
        key + tuple(_cell(v) for v in extra)
        for key, extra in zip(keys, dataset.extras, strict=True)
        if sizes[key] >= chosen.k_target
    ]
    secrets.SystemRandom().shuffle(rows)
    return rows


def measure_file(path: Path, quasi_identifiers: int, target: int) -> Measurement:
    """The classes of a written export, from the file alone: its first
    `quasi_identifiers` columns are the quasi-identifiers."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        return measure_classes((tuple(row[:quasi_identifiers]) for row in reader), target)


def ledger_detail(report_rows: int, chosen: Generalisation, info: SourceInfo) -> dict[str, object]:
    """What the ledger keeps of an export: counts and levels, never a value."""
    return {
        "k": chosen.k_target,
        "k_reached": chosen.after.k,
        "rows": report_rows,
        "suppressed": chosen.suppressed,
        "not_permitted": info.not_permitted,
        "purpose": info.purpose,
        "levels": chosen.level_map(),
    }


def record_export(
    uow: UnitOfWork,
    vault: Vault,
    detail: dict[str, object],
    *,
    actor: str,
    now: datetime,
) -> int:
    """The export's ledger entry (subject none: it is about no one customer)."""
    [index] = ledger.append(uow, vault, [ledger.Record(LEDGER_KIND, None, actor, detail)], now=now)
    return index


def write_export(
    dataset: Dataset,
    k: int,
    out: Path,
    *,
    max_suppressed: float = 0.0,
    overwrite: bool = False,
    record: Callable[[dict[str, object]], int] | None = None,
) -> ExportReport:
    """Write `dataset` de-identified to `out`, reaching k, or write nothing.

    `record`, when given, writes the ledger entry (and commits it) before the file is
    moved into place; it gets the entry's detail and returns its index.
    """
    check_k(k)
    if out.exists() and not overwrite:
        raise InvalidInput(f"{out}: already exists; choose another file or allow overwriting")
    if not out.parent.is_dir():
        raise InvalidInput(f"{out.parent}: no such folder")
    chosen = reach(dataset, k, max_suppressed=max_suppressed)
    columns = columns_of(dataset)
    rows = export_rows(dataset, chosen)
    if not rows:
        raise InvalidInput("nothing to export: no record is left once k is reached")
    temporary = out.with_name(f".{out.name}.{secrets.token_hex(6)}.partial")
    try:
        _write(temporary, columns, rows)
        written = measure_file(temporary, len(dataset.hierarchies), k)
        if written.k < k or written.records != len(rows):
            raise InvalidInput(
                f"the written file measures k = {written.k}, below the requested {k}; "
                "nothing was exported"
            )
        index = record(ledger_detail(len(rows), chosen, dataset.info)) if record else None
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return ExportReport(str(out), len(rows), columns, chosen, written, index)


def _write(path: Path, columns: Sequence[str], rows: Sequence[tuple[str, ...]]) -> None:
    """Create `path` (only readable by its owner) and write the CSV into it."""
    try:
        descriptor = create_private(path)
    except OSError as exc:
        raise InvalidInput(f"{path.parent}: cannot write there ({exc.__class__.__name__})") from exc
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
