"""`trustable risk …`: how easily people could be singled out, and exports that cannot.

Measures k-anonymity and uniqueness over the policy's quasi-identifiers, finds the
least coarse generalisation reaching a k, and writes de-identified exports. From the
store, customers' traits are opened in memory only; what is printed is counts,
levels and group sizes, never a value. With `--movielens PATH` the records come from
MovieLens 100K's user file instead, and the stores are not opened at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from trustable.bootstrap import Trustable
from trustable.core.errors import InvalidInput
from trustable.risk.schemas import Generalisation, Measurement, SourceInfo
from trustable.risk.service import Dataset

risk_app = typer.Typer(
    help="Re-identification risk: k-anonymity, uniqueness, de-identified exports.",
    no_args_is_help=True,
)

MovieLensOption = Annotated[
    Path | None,
    typer.Option(
        "--movielens",
        help="Read MovieLens 100K's user file (ml-100k.user) instead of the store.",
        dir_okay=False,
    ),
]
SuppressOption = Annotated[
    str,
    typer.Option(
        "--max-suppressed",
        help="Share of records that may be left out as outliers instead of coarsening "
        "everyone (e.g. 1%); at most 10%.",
    ),
]


def parse_share(text: str) -> float:
    """`1%`, `0.5 %` or `0.01` as a fraction; a clear error otherwise."""
    raw = text.strip()
    try:
        share = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError as exc:
        raise InvalidInput(f"--max-suppressed: '{text}' is not a share (write 1% or 0.01)") from exc
    if not 0.0 <= share <= 1.0:
        raise InvalidInput(f"--max-suppressed: '{text}' is not between 0% and 100%")
    return share


@contextmanager
def _dataset(
    movielens: Path | None, *, for_export: bool
) -> Iterator[tuple[Dataset, Trustable | None, int]]:
    """The records to judge, the running Trustable (None for MovieLens) and the
    policy's default k."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from trustable.cli.main import err, fail, running
    from trustable.core.errors import TrustableError
    from trustable.core.settings import Settings
    from trustable.identity.service import count_customers
    from trustable.policy.service import load_policy
    from trustable.risk.service import read_movielens, read_store, risk_spec

    if movielens is not None:
        try:
            spec = risk_spec(load_policy(Settings.from_env().policy_path))
            dataset = read_movielens(movielens, spec)
        except TrustableError as exc:
            fail(exc)
        yield dataset, None, spec.k
        return
    with running() as trustable:
        spec = risk_spec(trustable.policy)
        with trustable.reader() as uow:
            total = count_customers(uow)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err, transient=True, disable=total < 1000) as progress:
            task = progress.add_task("opening customers' traits", total=total)
            dataset = read_store(
                trustable.reader,
                trustable.vault,
                trustable.policy,
                for_export=for_export,
                progress=lambda done: progress.update(task, completed=done),
            )
        yield dataset, trustable, spec.k


def source_lines(info: SourceInfo, path: Path | None) -> list[str]:
    """Where the records came from, and who was left out, in words."""
    if info.name == "movielens":
        lines = [f"{info.records} people from MovieLens 100K's user file ({path})"]
    else:
        lines = [f"{info.records} customers from the store (traits opened in memory only)"]
    if info.purpose is not None:
        lines.append(
            f"only customers who permit {info.purpose} are exported: "
            f"{info.not_permitted} who do not were left out"
        )
    if info.skipped_no_key:
        lines.append(f"{info.skipped_no_key} without a data key (erased) were skipped")
    unknown = {f: n for f, n in info.unknown.items() if n}
    if unknown:
        lines.append(
            "missing or unusable values count as * (unknown) for that quasi-identifier: "
            + ", ".join(f"{f} {n}" for f, n in unknown.items())
        )
    return lines


def measurement_table(m: Measurement, title: str) -> Table:
    table = Table(title=title)
    table.add_column("group size", no_wrap=True)
    table.add_column("groups", justify="right")
    table.add_column("people", justify="right")
    table.add_column("share of people", justify="right")
    for bucket in m.distribution:
        share = bucket.people / m.records if m.records else 0.0
        table.add_row(bucket.label, str(bucket.classes), str(bucket.people), f"{share:.1%}")
    return table


def measurement_summary(m: Measurement) -> str:
    return (
        f"k = {m.k} (smallest group); {m.classes} groups; {m.unique} of {m.records} people "
        f"unique ({m.unique_share:.1%}); {m.below_target} ({m.below_target_share:.1%}) in "
        f"groups smaller than {m.target}"
    )


def generalisation_table(g: Generalisation) -> Table:
    table = Table(title=f"Generalisation reaching k >= {g.k_target}")
    table.add_column("quasi-identifier", no_wrap=True)
    table.add_column("level", justify="right")
    table.add_column("kept as")
    for level in g.levels:
        table.add_row(level.field, f"{level.level} of {level.top}", level.meaning)
    return table


def generalisation_summary(g: Generalisation) -> str:
    return (
        f"k = {g.k} with {g.classes} groups; {g.suppressed} records suppressed "
        f"(at most {g.allowed_suppressed} allowed); chosen among {g.minimal} minimal "
        f"generalisations by least discernibility ({g.discernibility}), "
        f"{g.evaluated} of {g.lattice} level combinations evaluated"
    )


def _print_source(dataset: Dataset, movielens: Path | None) -> None:
    from trustable.cli.main import console

    for line in source_lines(dataset.info, movielens):
        console.print(line, soft_wrap=True, highlight=False)


@risk_app.command("measure")
def risk_measure(
    movielens: MovieLensOption = None,
    k: Annotated[
        int | None, typer.Option("--k", help="Target group size (default: the policy's).")
    ] = None,
) -> None:
    """k-anonymity and uniqueness over the policy's quasi-identifiers, as they are."""
    from trustable.cli.main import console, guarded
    from trustable.risk.generalize import check_k
    from trustable.risk.service import measure

    with _dataset(movielens, for_export=False) as (dataset, _, default_k):
        target = k if k is not None else default_k
        guarded(lambda: check_k(target))
        found = measure(dataset, target)
    _print_source(dataset, movielens)
    fields = ", ".join(h.field for h in dataset.hierarchies)
    console.print(measurement_table(found, f"Groups sharing {fields}"))
    console.print(measurement_summary(found), soft_wrap=True, highlight=False)


@risk_app.command("generalize")
def risk_generalize(
    k: Annotated[int, typer.Option("--k", help="Smallest group size to reach.")],
    movielens: MovieLensOption = None,
    max_suppressed: SuppressOption = "0",
) -> None:
    """The least coarse generalisation that brings every group to at least k."""
    from trustable.cli.main import console, guarded
    from trustable.risk.service import measure, reach

    share = guarded(lambda: parse_share(max_suppressed))
    with _dataset(movielens, for_export=False) as (dataset, _, _k):
        before = measure(dataset, k)
        chosen = guarded(lambda: reach(dataset, k, max_suppressed=share))
    _print_source(dataset, movielens)
    console.print(
        measurement_summary(before).replace("k = ", "as they are: k = ", 1),
        soft_wrap=True,
        highlight=False,
    )
    console.print(generalisation_table(chosen))
    console.print(measurement_table(chosen.after, "Groups after generalisation"))
    console.print(generalisation_summary(chosen), soft_wrap=True, highlight=False)


@risk_app.command("export")
def risk_export(
    k: Annotated[int, typer.Option("--k", help="Smallest group size the file must reach.")],
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.", dir_okay=False)],
    movielens: MovieLensOption = None,
    max_suppressed: SuppressOption = "0",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing file.")] = (
        False
    ),
) -> None:
    """Write a de-identified CSV reaching k, re-measured from the file; else nothing."""
    from trustable.cli.main import console, guarded
    from trustable.risk.export import record_export, write_export

    share = guarded(lambda: parse_share(max_suppressed))
    with _dataset(movielens, for_export=True) as (dataset, trustable, _k):
        record: Callable[[dict[str, object]], int] | None = None
        if trustable is not None:
            app = trustable

            def record(detail: dict[str, object]) -> int:
                """The entry commits before the file is moved into place."""
                with app.uow() as uow:
                    index = record_export(uow, app.vault, detail, actor="cli", now=app.clock())
                    uow.commit()
                return index

        report = guarded(
            lambda: write_export(
                dataset, k, out, max_suppressed=share, overwrite=overwrite, record=record
            )
        )
    _print_source(dataset, movielens)
    console.print(generalisation_table(report.generalisation))
    console.print(
        f"wrote {report.rows} rows to {report.path} (columns: {', '.join(report.columns)}; "
        f"no ids, rows shuffled); {report.generalisation.suppressed} suppressed",
        soft_wrap=True,
        highlight=False,
    )
    console.print(
        f"re-measured from the file: k = {report.written.k} >= {k}, "
        f"{report.written.classes} groups",
        soft_wrap=True,
        highlight=False,
    )
    if report.ledger_index is not None:
        console.print(f"ledger entry {report.ledger_index} records the export (no values)")
