"""Recommendation quality on MovieLens 100K, and what forgetting a customer costs.

The data: `../shared/data/ml-100k/ml-100k.inter` (943 people, 100,000 ratings); a
rating of 4 or 5 is a positive. The split is per person and temporal: each person's
ratings in time order, the first 80% to train on, the last 20% held out; a person
is evaluated on their held-out positives, against every film they did not rate in
training, when they have at least one. Recall@10 is hits over min(10, positives);
NDCG@10 has binary gains.

Three models from the same split, in the same run:
- most-popular: films by their number of training positives;
- Trustable's (`personalize.model.Model`, EASE with λ = 300), trained on the training
  positives; a person's history is weighted towards their latest positives
  (1 + e^(−k/10) for the k-th latest), as the service does;
- `implicit`'s ALS (32 factors, regularization 0.05, 20 iterations, fixed seed) on the
  same training positives.
Then the same with 30% of people, drawn with a fixed seed, denying personalization:
their ratings leave the training data of every model, and metrics are over the
consenting people only.

Forgetting: on the model trained on everyone's training positives, `Model.forget`
for people drawn at random, each timed alone.

`python -m bench.personalize` runs this part alone.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.report import Figure, table
from trustable.personalize.model import Model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
POSITIVE = 4.0
HELD_OUT = 0.2
K = 10
OPT_OUT = 0.3
RECENCY = 10.0

Event = tuple[float, str, float]  # (time, film, rating)


@dataclass(frozen=True)
class Split:
    train: dict[str, list[Event]]
    test: dict[str, list[Event]]
    films: list[str]


def load_split(folder: Path = DATA) -> Split:
    by_person: dict[str, list[Event]] = {}
    with (folder / "ml-100k.inter").open(encoding="latin-1", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        next(rows)
        for person, film, rating, stamp in rows:
            by_person.setdefault(person, []).append((float(stamp), film, float(rating)))
    train, test = {}, {}
    for person, events in by_person.items():
        events.sort()
        cut = int(round(len(events) * (1 - HELD_OUT)))
        train[person], test[person] = events[:cut], events[cut:]
    films = sorted({film for events in by_person.values() for _, film, _ in events}, key=int)
    return Split(train, test, films)


@dataclass(frozen=True)
class Quality:
    recall: float
    ndcg: float
    people: int


Recommender = Callable[[str, set[str]], list[str]]


def evaluate(split: Split, people: Sequence[str], recommend: Recommender) -> Quality:
    recall = ndcg = 0.0
    counted = 0
    for person in people:
        truth = {film for _, film, rating in split.test[person] if rating >= POSITIVE}
        if not truth:
            continue
        seen = {film for _, film, _ in split.train[person]}
        hits = [1.0 if film in truth else 0.0 for film in recommend(person, seen)[:K]]
        recall += sum(hits) / min(len(truth), K)
        ideal = sum(1 / math.log2(k + 2) for k in range(min(len(truth), K)))
        ndcg += sum(h / math.log2(k + 2) for k, h in enumerate(hits)) / ideal
        counted += 1
    return Quality(recall / counted, ndcg / counted, counted)


def positives(split: Split, people: Sequence[str]) -> dict[str, list[str]]:
    return {p: [f for _, f, r in split.train[p] if r >= POSITIVE] for p in people}


def popular(split: Split, training: dict[str, list[str]]) -> Recommender:
    counts: dict[str, int] = {}
    for films in training.values():
        for film in films:
            counts[film] = counts.get(film, 0) + 1
    ranked = sorted(split.films, key=lambda f: (-counts.get(f, 0), int(f)))

    def recommend(person: str, seen: set[str]) -> list[str]:
        return [f for f in ranked if f not in seen][:K]

    return recommend


def history_weights(films: Sequence[str]) -> dict[str, float]:
    """Latest positives count most: 1 + e^(−k/10) for the k-th latest."""
    weights: dict[str, float] = {}
    for k, film in enumerate(reversed(films)):
        weights.setdefault(film, 1.0 + math.exp(-k / RECENCY))
    return weights


def ours(split: Split, training: dict[str, list[str]]) -> tuple[Recommender, Model]:
    model = Model.train(training, split.films)

    def recommend(person: str, seen: set[str]) -> list[str]:
        history = history_weights(training.get(person, []))
        return [s.item for s in model.recommend(history, K, exclude=seen, reasons=0)]

    return recommend, model


def als(split: Split, training: dict[str, list[str]]) -> Recommender:
    import scipy.sparse as sparse
    from implicit.als import AlternatingLeastSquares

    people = sorted(training)
    row = {p: n for n, p in enumerate(people)}
    column = {f: n for n, f in enumerate(split.films)}
    cells = [(row[p], column[f]) for p, films in training.items() for f in set(films)]
    matrix = sparse.csr_matrix(
        (np.ones(len(cells)), ([r for r, _ in cells], [c for _, c in cells])),
        shape=(len(people), len(split.films)),
    )
    model = AlternatingLeastSquares(factors=32, regularization=0.05, iterations=20, random_state=1)
    model.fit(matrix, show_progress=False)
    users = np.asarray(model.user_factors)
    items = np.asarray(model.item_factors)

    def recommend(person: str, seen: set[str]) -> list[str]:
        scores = items @ users[row[person]]
        order = np.argsort(-scores, kind="stable")
        return [split.films[int(c)] for c in order if split.films[int(c)] not in seen][:K]

    return recommend


@dataclass(frozen=True)
class Run:
    label: str
    people: int
    popular: Quality
    ours: Quality
    als: Quality


def run(split: Split, consenting: Sequence[str], label: str) -> tuple[Run, Model]:
    training = positives(split, consenting)
    recommend, model = ours(split, training)
    return (
        Run(
            label,
            len(consenting),
            evaluate(split, consenting, popular(split, training)),
            evaluate(split, consenting, recommend),
            evaluate(split, consenting, als(split, training)),
        ),
        model,
    )


@dataclass(frozen=True)
class Forgetting:
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    exact: bool  # the last forget matched a model trained from scratch without them


@dataclass(frozen=True)
class PersonalizeResult:
    everyone: Run
    opt_out: Run
    consenting_ndcg_all_in: float  # the consenting people's NDCG@10, everyone in the model
    forgetting: Forgetting
    films: int
    seconds: float

    @property
    def kept(self) -> float:
        """Consenting people's NDCG@10 with 30% out, as a share of theirs with all in."""
        return self.opt_out.ours.ndcg / self.consenting_ndcg_all_in


def measure(*, forgets: int = 200, seed: int = 20261101) -> PersonalizeResult:
    started = time.perf_counter()
    split = load_split()
    people = sorted(split.train, key=int)
    everyone, model = run(split, people, "everyone")
    rng = random.Random(seed)
    consenting = [p for p in people if rng.random() >= OPT_OUT]
    opt_out, _ = run(split, consenting, "30% deny")
    # The same consenting people, with everyone's data in the model: what they lose.
    recommend_all, _ = ours(split, positives(split, people))
    all_in = evaluate(split, consenting, recommend_all)

    training = positives(split, people)
    chosen = rng.sample(people, min(forgets, len(people)))
    times = []
    for person in chosen:
        t = time.perf_counter()
        model.forget(person)
        times.append(time.perf_counter() - t)
    rest = {p: f for p, f in training.items() if p not in set(chosen)}
    fresh = Model.train(rest, split.films)
    exact = bool(np.allclose(model.inverse, fresh.inverse, rtol=0, atol=1e-9)) and bool(
        np.array_equal(model.gram, fresh.gram)
    )
    ordered = sorted(times)
    forgetting = Forgetting(
        len(times),
        1000 * statistics.median(times),
        1000 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        1000 * ordered[-1],
        exact,
    )
    return PersonalizeResult(
        everyone,
        opt_out,
        all_in.ndcg,
        forgetting,
        len(split.films),
        time.perf_counter() - started,
    )


TARGET_VS_POPULAR = 1.5
TARGET_VS_ALS = 1.0
TARGET_KEPT = 90.0  # % of NDCG@10 the consenting keep with 30% out
TARGET_FORGET_MS = 50.0


def figures(r: PersonalizeResult) -> list[Figure]:
    return [
        Figure(
            "NDCG@10, Trustable / most-popular (ML-100K)",
            r.everyone.ours.ndcg / r.everyone.popular.ndcg,
            TARGET_VS_POPULAR,
            "×",
            higher_is_better=True,
        ),
        Figure(
            "NDCG@10, Trustable / implicit ALS (ML-100K)",
            r.everyone.ours.ndcg / r.everyone.als.ndcg,
            TARGET_VS_ALS,
            "×",
            higher_is_better=True,
        ),
        Figure(
            "NDCG@10 the consenting keep, 30% denying",
            100 * r.kept,
            TARGET_KEPT,
            "%",
            higher_is_better=True,
        ),
        Figure(
            "forgetting a customer p99 (1,682 films)",
            r.forgetting.p99_ms,
            TARGET_FORGET_MS,
            "ms",
            higher_is_better=False,
        ),
    ]


def render(r: PersonalizeResult) -> list[str]:
    def rows(run_: Run) -> list[tuple[str, ...]]:
        return [
            (run_.label, name, f"{q.people}", f"{q.recall:.4f}", f"{q.ndcg:.4f}")
            for name, q in (
                ("most-popular", run_.popular),
                ("Trustable (EASE)", run_.ours),
                ("implicit ALS", run_.als),
            )
        ]

    f = r.forgetting
    vs_popular = r.everyone.ours.ndcg / r.everyone.popular.ndcg
    vs_als = r.everyone.ours.ndcg / r.everyone.als.ndcg
    return [
        "## 9. Recommendations on MovieLens 100K, and forgetting",
        "",
        "MovieLens 100K's ratings (943 people, 100,000 ratings, from "
        "`../shared/data/ml-100k/`); a rating of 4 or 5 is a positive. The split is per "
        "person and temporal: each person's ratings in time order, the first 80% to train "
        "on, the last 20% held out. A person is evaluated on their held-out positives, "
        "against every film they did not rate in training, when they have at least one; "
        "Recall@10 is hits over min(10, positives), NDCG@10 has binary gains. Three models "
        "from the same split in the same run: most-popular (films by their number of "
        "training positives); Trustable's (`personalize.model.Model`: EASE, λ = 300, on "
        "the training positives, a person's history weighted towards their latest "
        "positives, 1 + e^(−k/10) for the k-th latest); and `implicit`'s ALS (32 factors, "
        "regularization 0.05, 20 iterations, fixed seed) on the same positives. Then the "
        "same with 30% of people, drawn with a fixed seed, denying personalization: their "
        "ratings leave every model's training data, and the metrics are over the "
        "consenting people only.",
        "",
        *table(
            ("who consents", "model", "people evaluated", "Recall@10", "NDCG@10"),
            rows(r.everyone) + rows(r.opt_out),
        ),
        "",
        f"- NDCG@10, Trustable / most-popular: **{vs_popular:.2f}×**; Trustable / ALS: "
        f"**{vs_als:.2f}×**",
        f"- with 30% denying, the consenting people's NDCG@10 is {r.opt_out.ours.ndcg:.4f}, "
        f"against {r.consenting_ndcg_all_in:.4f} for the same people with everyone in the "
        f"model: they keep **{r.kept:.1%}**",
        f"- forgetting (`Model.forget`, on the model of everyone's training positives, "
        f"{r.films:,} films): {f.count} people drawn at random, each timed alone: p50 "
        f"{f.p50_ms:.2f} ms, p99 **{f.p99_ms:.2f} ms**, max {f.max_ms:.2f} ms; after them "
        "the model "
        + ("equals" if f.exact else "**differs from**")
        + " one trained from scratch without those people (counts exactly, the inverse "
        "to 1e-9)",
        f"- the section took {r.seconds:.1f} s",
        "",
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.personalize", description=__doc__)
    parser.add_argument("--forgets", type=int, default=200)
    args = parser.parse_args(argv)
    print("\n".join(render(measure(forgets=args.forgets))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
