"""The recommender's model: EASE, kept exactly forgettable.

EASE (Steck, "Embarrassingly Shallow Autoencoders", WWW 2019) learns an item-to-item
weight matrix in closed form from the Gram matrix G = Σ_u x_u x_uᵀ of the customers'
positive items (x_u: 1 for each item the customer liked):

    P = (G + λI)⁻¹,    B[i, j] = −P[i, j] / P[j, j]  (i ≠ j),  B[j, j] = 0,

and scores a customer's unseen items as s = x B. It needs no iterations and no
random start, which is what makes exact forgetting possible: a customer's whole
contribution is the one rank-one term x_u x_uᵀ of G, so removing it is a
Sherman–Morrison downdate of P in O(items²),

    (A − x xᵀ)⁻¹ = P + (P x)(P x)ᵀ / (1 − xᵀ P x),

after which the model equals, to floating-point rounding, one trained from scratch
without that customer (tests/personalize holds it to that). Adding a customer is the
matching update. B is never stored: s = x B is computed from P directly, and so is
each history item's share of a score, which is what an explanation shows.

Memory and time grow with the square of the catalogue (a 1,682-film catalogue: 23
MiB, a forget in a few milliseconds); a catalogue of more than some ten thousand
items would want another model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

DEFAULT_LAMBDA = 300.0

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class Contribution:
    """How much one item of the customer's history adds to a recommended item."""

    item: str
    weight: float


@dataclass(frozen=True)
class Scored:
    item: str
    score: float
    because: list[Contribution] = field(default_factory=list)


class Model:
    """EASE over the positives of the customers who allow it, one per contributor."""

    def __init__(self, catalogue: Sequence[str], *, regularization: float = DEFAULT_LAMBDA) -> None:
        if regularization <= 0:
            raise ValueError("regularization must be positive")
        self.items = list(dict.fromkeys(catalogue))
        self.index = {item: n for n, item in enumerate(self.items)}
        self.regularization = regularization
        size = len(self.items)
        self.gram: Matrix = np.zeros((size, size))
        self.inverse: Matrix = np.eye(size) / regularization
        self.contributors: dict[str, tuple[int, ...]] = {}
        self._popular: NDArray[np.intp] | None = None  # made on first use, reset on change

    @classmethod
    def train(
        cls,
        positives: Mapping[str, Iterable[str]],
        catalogue: Sequence[str],
        *,
        regularization: float = DEFAULT_LAMBDA,
    ) -> Model:
        """From scratch: G from every contributor's positives, then one inversion."""
        model = cls(catalogue, regularization=regularization)
        for customer, items in positives.items():
            columns = model._columns(items)
            if columns:
                model.contributors[customer] = columns
                model.gram[np.ix_(columns, columns)] += 1.0
        size = len(model.items)
        model.inverse = np.asarray(
            np.linalg.inv(model.gram + regularization * np.eye(size)), dtype=np.float64
        )
        return model

    def _columns(self, items: Iterable[str]) -> tuple[int, ...]:
        """The catalogue columns of these items (unknown items are no part of it)."""
        return tuple(sorted({self.index[i] for i in items if i in self.index}))

    def forget(self, customer: str) -> bool:
        """Remove a customer's whole contribution at once; False when there was none."""
        columns = self.contributors.pop(customer, None)
        if columns is None:
            return False
        self._rank_one(columns, -1.0)
        return True

    def popular(self) -> NDArray[np.intp]:
        """Columns liked by at least one contributor, most liked first (ties to the
        lower column); kept until the next change, since every non-personal answer
        walks it."""
        if self._popular is None:
            counts = np.diag(self.gram)
            order = np.argsort(-counts, kind="stable")
            self._popular = order[counts[order] > 0]
        return self._popular

    def add(self, customer: str, items: Iterable[str]) -> None:
        """Make a customer's positives part of the model (replacing what was there)."""
        self.forget(customer)
        columns = self._columns(items)
        if columns:
            self._rank_one(columns, 1.0)
            self.contributors[customer] = columns

    def _rank_one(self, columns: tuple[int, ...], sign: float) -> None:
        """G ± x xᵀ, and P updated to match (Sherman–Morrison), in place."""
        cols = list(columns)
        self._popular = None
        self.gram[np.ix_(cols, cols)] += sign
        px = self.inverse[:, cols].sum(axis=1)  # P x, with x the 0/1 vector of `columns`
        denominator = 1.0 + sign * px[cols].sum()
        self.inverse -= sign * np.outer(px, px) / denominator

    def _history(self, history: Mapping[str, float]) -> tuple[list[int], Matrix]:
        """The catalogue columns of a weighted history, and their weights."""
        columns = [self.index[i] for i in history if i in self.index]
        weights = np.array([history[self.items[c]] for c in columns], dtype=np.float64)
        return columns, weights

    def scores(self, history: Mapping[str, float]) -> Matrix:
        """x B for a weighted history {item: weight}: one score per catalogue item.
        Only the history's rows of P are read, not the whole matrix."""
        columns, weights = self._history(history)
        scores: Matrix = np.zeros(len(self.items))
        if columns:
            scores = -(weights @ self.inverse[columns]) / np.diag(self.inverse)
            scores[columns] += weights  # cancels B[j, j], which is 0 by definition
        return scores

    def recommend(
        self, history: Mapping[str, float], n: int, *, exclude: Iterable[str] = (), reasons: int = 3
    ) -> list[Scored]:
        """The `n` best items not in `exclude` nor in the history, each with the
        history items that led to it most (their share of its score)."""
        columns, weights = self._history(history)
        scores = self.scores(history)
        banned = np.zeros(len(self.items), dtype=bool)
        banned[[self.index[i] for i in exclude if i in self.index]] = True
        banned[columns] = True
        candidates = np.flatnonzero(~banned)
        if candidates.size == 0 or n <= 0:
            return []
        take = min(n, candidates.size)
        # The best `take` by score, ties to the lower column (a stable order).
        ranked = candidates[np.lexsort((candidates, -scores[candidates]))][:take]
        found = []
        if columns:
            diagonal = np.diag(self.inverse)[ranked]
            # shares[h, r]: what history item h adds to the score of ranked item r.
            block: Matrix = self.inverse[np.asarray(columns)[:, None], ranked[None, :]]
            shares = -(weights[:, None] * block) / diagonal
        for r, column in enumerate(ranked):
            because: list[Contribution] = []
            if columns and reasons > 0:
                top = np.argsort(-shares[:, r], kind="stable")[:reasons]
                because = [
                    Contribution(self.items[columns[h]], float(shares[h, r]))
                    for h in top
                    if shares[h, r] > 0
                ]
            found.append(Scored(self.items[int(column)], float(scores[column]), because))
        return found
