"""Segments' cost on ingest: the MovieLens 100K import with and without them.

Each round imports all of MovieLens 100K (943 people, 100,000 `Movie Rated` events
carrying genres) through `demo.movielens.import_movielens`, i.e. through collection,
into a fresh SQLite store: once under the example policy as it is (the
`sci-fi-fans` segment: at least five Sci-Fi ratings of 4 stars or more in 90 days,
for recommendations), once under the same policy with no segments. Rounds alternate
which arm goes first (without then with, then with then without, …), so drift and
warm-up fall on both; the figure is the ratio of the medians. Run alone with
`python -m bench.segments [rounds]`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Figure, figures_table, table
from bench.world import new_store
from trustable.policy.service import Policy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
TARGET_RATIO = 1.10  # import time with segments / without, at most
ROUNDS = 4


@dataclass(frozen=True)
class SegmentsResult:
    without_s: list[float]
    with_s: list[float]
    observe_s: list[float]  # of `with_s`: time inside segment evaluation
    members: int  # sci-fi fans after the import with segments
    hits: int  # ratings counted into the segment
    entries: int  # `segment` ledger entries written by the import

    @property
    def ratio(self) -> float:
        return statistics.median(self.with_s) / statistics.median(self.without_s)

    @property
    def observe_share(self) -> float:
        """The share of the import spent evaluating segments, measured inside it: what
        the ratio estimates, without the noise of comparing separate runs."""
        return statistics.median(o / w for o, w in zip(self.observe_s, self.with_s, strict=True))


def _import(work: Path, segments: bool) -> tuple[float, float, int, int, int]:
    from sqlalchemy import func, select

    import trustable.events.service as collection
    from trustable.demo.movielens import import_movielens
    from trustable.ledger.sequencer import flush
    from trustable.ledger.tables import ledger_entries
    from trustable.segments.tables import segment_hits, segment_members

    store = new_store(work)
    app = store.open()
    observe = collection.observe
    inside = [0.0]

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return observe(*args, **kwargs)
        finally:
            inside[0] += time.perf_counter() - began

    try:
        if not segments:
            app.policy = Policy(app.policy.spec.model_copy(update={"segments": {}}))
        collection.observe = timed
        started = time.perf_counter()
        import_movielens(app, DATA)
        took = time.perf_counter() - started
        flush(app)  # the import submitted its ledger records: give them their indices
        with app.reader() as uow:
            conn = uow.connection
            members = conn.execute(select(func.count()).select_from(segment_members)).scalar()
            hits = conn.execute(select(func.count()).select_from(segment_hits)).scalar()
            entries = conn.execute(
                select(func.count()).where(ledger_entries.c.kind == "segment")
            ).scalar()
        return took, inside[0], int(members or 0), int(hits or 0), int(entries or 0)
    finally:
        collection.observe = observe
        app.close()


def measure(
    work: Path, rounds: int = ROUNDS, progress: Callable[[str], None] = print
) -> SegmentsResult:
    without: list[float] = []
    with_: list[float] = []
    inside: list[float] = []  # seconds spent in `segments.service.observe`, per import
    members = hits = entries = 0
    for n in range(rounds):
        for segmented in (n % 2 == 1, n % 2 == 0):  # each arm goes first in turn
            took, evaluating, found, counted, logged = _import(
                work / f"{'with' if segmented else 'without'}-{n}", segments=segmented
            )
            if segmented:
                with_.append(took)
                inside.append(evaluating)
                members, hits, entries = found, counted, logged
            else:
                without.append(took)
        progress(f"  round {n + 1}: {without[-1]:.1f} s without segments, {with_[-1]:.1f} s with")
    return SegmentsResult(without, with_, inside, members, hits, entries)


def figures(r: SegmentsResult) -> list[Figure]:
    return [
        Figure(
            "MovieLens 100K import, with segments / without",
            r.ratio,
            TARGET_RATIO,
            "×",
            higher_is_better=False,
        ),
        Figure(
            "MovieLens 100K import: share spent evaluating segments",
            100 * r.observe_share,
            100 * (TARGET_RATIO - 1),
            "%",
            higher_is_better=False,
        ),
    ]


def render(r: SegmentsResult) -> list[str]:
    rows = [
        ("without segments", *(f"{s:.1f} s" for s in r.without_s)),
        ("with `sci-fi-fans`", *(f"{s:.1f} s" for s in r.with_s)),
    ]
    return [
        "## 13. Segments: their cost on ingest",
        "",
        "All of MovieLens 100K imported through collection into a fresh SQLite store, "
        "under the example policy with its `sci-fi-fans` segment and under the same policy "
        "without segments, alternating (see bench/segments.py). With the segment, each "
        "stored rating is matched against the rule, qualifying ones are written to "
        "`segment_hits`, the customers they touch are counted again over the 90-day window "
        "in one grouped query per batch, and membership changes are written with their "
        "ledger entries, all in the batch's own transaction.",
        "",
        *table(("policy", *(f"round {n + 1}" for n in range(len(r.with_s)))), rows),
        "",
        f"Median ratio {r.ratio:.3f}× (target ≤ {TARGET_RATIO:.2f}×). Timed inside the "
        f"imports with the segment, evaluating it (`segments.service.observe`) took "
        f"{100 * r.observe_share:.1f}% of the import (median), the steadier figure: "
        "separate imports of the same data vary by more than that from run to run. "
        "The import counted "
        f"{r.hits:,} ratings into the segment and left {r.members} sci-fi fans, with "
        f"{r.entries} `segment` ledger entries.",
        "",
    ]


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp), rounds)
    print("\n".join(render(result)))
    print("\n".join(figures_table(figures(result))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
