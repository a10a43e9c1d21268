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

Over HTTP: a fresh store filled by `demo.movielens.import_movielens` (through
collection, 30% of people denying), a key holding `read:personalize.content.profiled`,
and the server process of section 6, which trains the recommender at start. After
warm-up (the first request waits for training; one untimed read per measured
customer), one keep-alive client reads `/v1/customers/{id}/recommendations?n=10`
round-robin over consenting customers, then over denying ones, each request timed
alone and every answer checked (personal with reasons from the customer's own
positives, no film they rated; or popular, with the policy's note and no reasons).

`python -m bench.personalize` runs this part alone (`--no-http` skips the HTTP part).
"""

from __future__ import annotations

import argparse
import csv
import gc
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from bench.report import Figure, figures_table, table
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
    http: HttpRecommendations | None  # None when the HTTP part was skipped

    @property
    def kept(self) -> float:
        """Consenting people's NDCG@10 with 30% out, as a share of theirs with all in."""
        return self.opt_out.ours.ndcg / self.consenting_ndcg_all_in


def measure(
    *,
    forgets: int = 200,
    seed: int = 20261101,
    http: bool = True,
    work: Path | None = None,
    progress: Callable[[str], None] = print,
) -> PersonalizeResult:
    """Quality and forgetting in-process; then, with `http`, recommendations read over
    HTTP from a store of their own made in `work` (a temporary folder when None)."""
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
    seconds = time.perf_counter() - started
    served = None
    if http:
        if work is None:
            with tempfile.TemporaryDirectory(prefix="bench-personalize-") as folder:
                served = measure_http(Path(folder), seed=seed, progress=progress)
        else:
            served = measure_http(work, seed=seed, progress=progress)
    return PersonalizeResult(
        everyone, opt_out, all_in.ndcg, forgetting, len(split.films), seconds, served
    )


# -- recommendations over HTTP ---------------------------------------------------------

PURPOSE = "personalize.content.profiled"
REASON = "because you rated "
DENY_SHARE = 0.3
HTTP_N = 10


@dataclass(frozen=True)
class Person:
    """One MovieLens person as a customer, with what their answers are checked against."""

    user_id: str
    customer_id: str
    rated: frozenset[str]  # every film they rated: none may be recommended to them
    reasons: frozenset[str]  # "because you rated <title> <stars> stars", one per positive


@dataclass
class ReadGroup:
    """Timed reads of one kind of customer, latencies in seconds."""

    label: str
    customers: int
    latencies_s: list[float] = field(default_factory=list)
    items: int = 0
    reasons: int = 0
    bytes_total: int = 0
    by_person: dict[str, tuple[int, list[float]]] = field(default_factory=dict)  # ratings, s
    sizes: list[int] = field(default_factory=list)  # the ratings of whom each read was for

    def slowest_sizes(self, share: float) -> list[int]:
        """The ratings of the customers behind the slowest `share` of the reads."""
        order = sorted(range(self.requests), key=lambda k: self.latencies_s[k], reverse=True)
        return sorted(self.sizes[k] for k in order[: max(1, round(share * self.requests))])

    def median_ms(self, user_id: str) -> float:
        return 1000 * statistics.median(self.by_person[user_id][1])

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    def ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class HttpRecommendations:
    customers: int
    denying: int  # customers whose consent to the purpose is denied after the import
    ratings: int
    denied_ratings: int  # ratings by the denying: collection keeps nothing of them
    stored: int
    import_s: float
    first_s: float  # the first request, sent once the server answered: it waits for training
    cold_max_s: float  # the slowest of the untimed first reads of the other measured customers
    consenting: ReadGroup
    denying_reads: ReadGroup
    popular_same: bool  # every denying customer was shown the same (popular) films


def _people(folder: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per MovieLens person: the films they rated, and the reasons their positives give."""
    titles: dict[str, str] = {}
    with (folder / "ml-100k.item").open(encoding="latin-1", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        next(rows)
        for row in rows:
            titles[row[0]] = row[1]
    rated: dict[str, set[str]] = {}
    reasons: dict[str, set[str]] = {}
    with (folder / "ml-100k.inter").open(encoding="latin-1", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        next(rows)
        for person, film, rating, _ in rows:
            rated.setdefault(person, set()).add(film)
            stars = float(rating)
            if stars >= POSITIVE:
                shown = str(int(stars)) if stars.is_integer() else f"{stars:g}"
                title = titles.get(film) or film
                reasons.setdefault(person, set()).add(f"{REASON}{title} {shown} stars")
    return rated, reasons


def measure_http(
    work: Path,
    *,
    consenting: int = 50,
    denying: int = 20,
    consenting_reads: int = 500,
    denying_reads: int = 100,
    seed: int = 20261101,
    progress: Callable[[str], None] = print,
) -> HttpRecommendations:
    """MovieLens imported into a fresh store through collection, then recommendations
    read over HTTP from a server process, each request timed alone and checked."""
    from bench.http_load import server_process
    from bench.world import new_store
    from trustable.access.service import create_key
    from trustable.consent.service import decisions_for
    from trustable.demo.movielens import import_movielens
    from trustable.identity.service import find_customer

    store = new_store(work / "store")
    app = store.open()
    try:
        progress(f"  importing MovieLens 100K through collection ({DENY_SHARE:.0%} denying)")
        started = time.perf_counter()

        def said(done: int, total: int) -> None:
            if done == total or done % 20_000 < 1_000:
                progress(f"    {done:,} of {total:,} in {time.perf_counter() - started:.1f} s")

        summary = import_movielens(app, DATA, deny_share=DENY_SHARE, progress=said)
        import_s = time.perf_counter() - started
        rated, reasons = _people(DATA)
        with app.uow() as uow:
            found = {u: find_customer(uow, app.vault, "user_id", f"ml-{u}") for u in rated}
            missing = sorted((u for u, c in found.items() if c is None), key=int)
            if missing:
                raise RuntimeError(f"{len(missing)} people not found as customers: {missing[:5]}")
            ids = {u: str(c) for u, c in found.items()}
            spec = app.policy.spec.personalization
            category = app.policy.category_of(spec.item) if spec else None
            if spec is None or category is None:
                raise RuntimeError("the policy declares no personalization")
            decisions = decisions_for(uow, app.policy, list(ids.values()))
            allowed = {u for u, c in ids.items() if decisions.may(c, spec.purpose, category)}
            _, api_key = create_key(
                uow,
                app.policy,
                name="bench recommendations",
                scopes=[f"read:{PURPOSE}"],
                now=app.clock(),
            )
            uow.commit()
    finally:
        app.close()

    def person(u: str) -> Person:
        return Person(u, ids[u], frozenset(rated[u]), frozenset(reasons.get(u, ())))

    rng = random.Random(seed)
    order = sorted(ids, key=int)
    yes = [
        person(u)
        for u in rng.sample([u for u in order if u in allowed and u in reasons], consenting)
    ]
    no = [person(u) for u in rng.sample([u for u in order if u not in allowed], denying)]

    progress("  server process; first request waits for the recommender's training")
    headers = {"Authorization": f"Bearer {api_key}"}
    with (
        server_process(store, work / "server.log") as url,
        httpx.Client(base_url=url, headers=headers, timeout=600.0) as client,
    ):
        sent = time.perf_counter()
        first = _read(client, yes[0])
        first_s = time.perf_counter() - sent
        _check(first, yes[0], personal=True)
        cold = []
        for p in yes[1:] + no:  # one untimed read each: their data keys not yet cached
            sent = time.perf_counter()
            _check(_read(client, p), p, personal=p in yes)
            cold.append(time.perf_counter() - sent)
        progress(f"    first answer after {first_s:.1f} s; timed reads")
        yes_run = _timed(client, "consenting", yes, consenting_reads, personal=True)
        no_run = _timed(client, "denying", no, denying_reads, personal=False)
    return HttpRecommendations(
        customers=len(ids),
        denying=len(ids) - len(allowed),
        ratings=summary.events,
        denied_ratings=sum(len(films) for u, films in rated.items() if u not in allowed),
        stored=summary.stored,
        import_s=import_s,
        first_s=first_s,
        cold_max_s=max(cold),
        consenting=yes_run[0],
        denying_reads=no_run[0],
        popular_same=len(no_run[1]) == 1,
    )


def _read(client: httpx.Client, p: Person) -> httpx.Response:
    return client.get(f"/v1/customers/{p.customer_id}/recommendations", params={"n": HTTP_N})


def _timed(
    client: httpx.Client, label: str, people: list[Person], count: int, *, personal: bool
) -> tuple[ReadGroup, set[tuple[str, ...]]]:
    """`count` reads round-robin over `people`, each timed alone, checked after the clock."""
    group = ReadGroup(label, len(people))
    shown: set[tuple[str, ...]] = set()
    gc.collect()
    for n in range(count):
        p = people[n % len(people)]
        sent = time.perf_counter()
        response = _read(client, p)
        group.latencies_s.append(time.perf_counter() - sent)
        group.by_person.setdefault(p.user_id, (len(p.rated), []))[1].append(group.latencies_s[-1])
        group.sizes.append(len(p.rated))
        doc = _check(response, p, personal=personal)
        group.items += len(doc["items"])
        group.reasons += sum(len(i["reasons"]) for i in doc["items"])
        group.bytes_total += len(response.content)
        shown.add(tuple(i["item"] for i in doc["items"]))
    return group, shown


def _check(response: httpx.Response, p: Person, *, personal: bool) -> dict[str, Any]:
    """The answer, or an error saying why it is not what `p` should get."""

    def wrong(why: str) -> RuntimeError:
        return RuntimeError(f"ml-{p.user_id} ({p.customer_id}): {why}")

    if response.status_code != 200:
        raise wrong(f"{response.status_code}: {response.text[:300]}")
    doc: dict[str, Any] = orjson.loads(response.content)
    items = doc.get("items", [])
    if doc.get("customer_id") != p.customer_id or doc.get("purpose") != PURPOSE:
        raise wrong(f"answer for {doc.get('customer_id')}/{doc.get('purpose')}")
    if doc.get("personal") is not personal:
        raise wrong(f"personal is {doc.get('personal')}, not {personal}")
    if len(items) != HTTP_N or len({i["item"] for i in items}) != HTTP_N:
        raise wrong(f"{len(items)} items ({len({i['item'] for i in items})} distinct)")
    if personal:
        if doc.get("note") is not None:
            raise wrong(f"a personal answer with a note: {doc['note']!r}")
        for i in items:
            if i["item"] in p.rated:
                raise wrong(f"film {i['item']} recommended, already rated")
            if not i["reasons"] or not all(r.startswith(REASON) for r in i["reasons"]):
                raise wrong(f"film {i['item']}: reasons {i['reasons']}")
            stray = [r for r in i["reasons"] if r not in p.reasons]
            if stray:
                raise wrong(f"film {i['item']}: a reason not from their positives: {stray[0]!r}")
    else:
        if not doc.get("note"):
            raise wrong("not personal, without a note")
        if any(i["reasons"] for i in items):
            raise wrong("not personal, yet with reasons")
    return doc


TARGET_VS_POPULAR = 1.5
TARGET_VS_ALS = 1.0
TARGET_KEPT = 90.0  # % of NDCG@10 the consenting keep with 30% out
TARGET_FORGET_MS = 50.0
TARGET_HTTP_P99_MS = 10.0  # one recommendations read, reasons included, one client


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
        *(
            []
            if r.http is None
            else [
                Figure(
                    "recommendations p99 over HTTP, with reasons",
                    r.http.consenting.ms(0.99),
                    TARGET_HTTP_P99_MS,
                    "ms",
                    higher_is_better=False,
                )
            ]
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
        f"- the in-process part took {r.seconds:.1f} s",
        "",
        *([] if r.http is None else render_http(r.http)),
    ]


def render_http(h: HttpRecommendations) -> list[str]:
    yes, no = h.consenting, h.denying_reads
    light = min(yes.by_person, key=lambda u: (yes.by_person[u][0], int(u)))
    heavy = max(yes.by_person, key=lambda u: (yes.by_person[u][0], -int(u)))
    slow = yes.slowest_sizes(0.01)
    rows = [
        (
            f"{g.label} ({g.customers} customers)",
            f"{g.requests:,}",
            *(f"{g.ms(q):.2f}" for q in (0.5, 0.9, 0.99, 1.0)),
            f"{g.bytes_total / g.requests / 1024:.1f}",
        )
        for g in (yes, no)
    ]
    return [
        "### Recommendations over HTTP",
        "",
        f"A fresh SQLite store (`bench.world.new_store`) filled by "
        f"`demo.movielens.import_movielens(..., deny_share={DENY_SHARE})`, which goes "
        "through collection (`events.service.ingest`, 1,000 messages per unit of work): "
        f"{h.customers:,} customers, each with a consent decision for `{PURPOSE}` "
        f"({h.denying:,} denied), then their {h.ratings:,} ratings as `Movie Rated` events, "
        f"in **{h.import_s:.1f} s**. {h.stored:,} events were stored: the identify calls "
        f"and the consenting customers' ratings; the {h.denied_ratings:,} ratings of those "
        "who denied carry nothing a purpose they permit may use, so collection kept none "
        f"of them (each still has its ledger entry). Then a key holding only `read:{PURPOSE}` "
        "(`access.service.create_key`), and the server process of section 6 "
        "(`bench.server`), which trains the recommender at start from a thread "
        "(`personalize.runner`).",
        "",
        "One keep-alive `httpx` client in the benchmark's process sends `GET "
        f"/v1/customers/{{id}}/recommendations?n={HTTP_N}`, each request timed alone from "
        "send to the answer's last byte. Warm-up, not counted: the first request, sent as "
        "soon as the server answered `/health`, waits for the recommender's training and "
        f"returned after {h.first_s:.1f} s; then one untimed read of every other measured "
        f"customer (the slowest {1000 * h.cold_max_s:.1f} ms). Then "
        f"{yes.requests:,} reads round-robin over {yes.customers} consenting customers "
        f"drawn with a fixed seed (among those with a positive rating), then "
        f"{no.requests:,} over {no.customers} denying ones. Every answer is checked: 200, "
        f"the right customer; for the consenting, `personal` true, no note, {HTTP_N} "
        "distinct films, none of which the customer rated (against `ml-100k.inter`), each "
        'with at least one reason, every reason "because you rated <title> <stars> '
        "stars\" for one of the customer's own positives; for the denying, `personal` "
        f"false, the policy's note, {HTTP_N} films and no reason"
        + (
            ", the same films for all of them (nothing of theirs is used)."
            if h.popular_same
            else "."
        ),
        "",
        *table(
            ("reads", "count", "p50 ms", "p90 ms", "p99 ms", "max ms", "KiB per answer"),
            rows,
        ),
        "",
        f"- consenting customers: p99 **{yes.ms(0.99):.2f} ms** (target ≤ "
        f"{TARGET_HTTP_P99_MS:.0f} ms), {yes.reasons / yes.items:.2f} reasons per film on "
        "average",
        "- a read costs what the customer holds: each customer's median read, from "
        f"{yes.median_ms(light):.2f} ms ({yes.by_person[light][0]} ratings) "
        f"to {yes.median_ms(heavy):.2f} ms ({yes.by_person[heavy][0]}); each read checks "
        "the customer's consent and their events' count in the store, and scores their "
        "whole history; their opened ratings stay in memory until their events change. "
        "The slowest 1% of the "
        f"reads were for customers with {slow[0]} to {slow[-1]} ratings (the median of the "
        f"{yes.customers}: {statistics.median(n for n, _ in yes.by_person.values()):.0f})",
        "",
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.personalize", description=__doc__)
    parser.add_argument("--forgets", type=int, default=200)
    parser.add_argument(
        "--no-http", action="store_true", help="skip the import and the reads over HTTP"
    )
    args = parser.parse_args(argv)
    result = measure(forgets=args.forgets, http=not args.no_http)
    print("\n".join(render(result)))
    print("\n".join(figures_table(figures(result))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
