"""The model forgets a customer exactly: after `forget`, it is the model trained without them."""

from __future__ import annotations

import random

import numpy as np
import pytest

from trustable.personalize.model import Model

CATALOGUE = [f"film-{n}" for n in range(60)]


def histories(customers: int = 40, seed: int = 3) -> dict[str, list[str]]:
    rng = random.Random(seed)
    # Tastes with structure: customers like films from one of three blocks, mostly.
    found = {}
    for c in range(customers):
        block = c % 3
        liked = [f"film-{block * 20 + rng.randrange(20)}" for _ in range(rng.randrange(3, 12))]
        liked += [rng.choice(CATALOGUE) for _ in range(2)]
        found[f"cus_{c}"] = liked
    return found


def same(a: Model, b: Model) -> None:
    assert np.array_equal(a.gram, b.gram)  # counts: exactly
    np.testing.assert_allclose(a.inverse, b.inverse, rtol=0, atol=1e-12)
    assert a.contributors == b.contributors


def test_forgetting_a_customer_equals_training_without_them() -> None:
    everyone = histories()
    model = Model.train(everyone, CATALOGUE)
    assert model.forget("cus_7")
    without = {c: h for c, h in everyone.items() if c != "cus_7"}
    same(model, Model.train(without, CATALOGUE))
    for customer in ("cus_1", "cus_2", "cus_30"):  # many in a row stay exact
        model.forget(customer)
        without.pop(customer)
    same(model, Model.train(without, CATALOGUE))
    assert not model.forget("cus_7")  # once gone, nothing left to forget
    assert not model.forget("cus_nobody")


def test_adding_a_customer_equals_training_with_them() -> None:
    everyone = histories()
    some = {c: h for c, h in everyone.items() if c != "cus_5"}
    model = Model.train(some, CATALOGUE)
    model.add("cus_5", everyone["cus_5"])
    same(model, Model.train(everyone, CATALOGUE))
    model.add("cus_5", ["film-1"])  # a changed history replaces the old one
    same(model, Model.train({**some, "cus_5": ["film-1"]}, CATALOGUE))


def test_recommendations_follow_taste_and_say_why() -> None:
    model = Model.train(histories(customers=90), CATALOGUE)
    history = {"film-0": 1.0, "film-3": 1.0, "film-5": 1.0}
    found = model.recommend(history, 5, exclude=["film-9"])
    assert len(found) == 5
    items = [f.item for f in found]
    assert not {"film-0", "film-3", "film-5", "film-9"} & set(items)
    assert sum(int(i.split("-")[1]) < 20 for i in items) >= 4  # the same block of films
    first = found[0]
    assert first.because and all(c.item in history for c in first.because)
    shares = model.recommend(history, 1, reasons=10)[0]
    assert sum(c.weight for c in shares.because) == pytest.approx(shares.score, abs=1e-9)
    assert [s.item for s in model.recommend({"not-a-film": 1.0}, 3)]  # unknown items: no history


def test_a_model_trained_on_no_one_recommends_nothing_personal() -> None:
    model = Model.train({}, CATALOGUE)
    assert all(s.score == 0 and not s.because for s in model.recommend({"film-1": 1.0}, 3))
    with pytest.raises(ValueError):
        Model(CATALOGUE, regularization=0)
