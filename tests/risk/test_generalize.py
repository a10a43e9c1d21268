"""Generalising to reach k: minimal, least lossy, suppression within its limit."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import MOVIELENS
from tests.risk.support import AGE, GENDER, ZIP, table
from trustable.core.errors import InvalidInput
from trustable.core.settings import example_policy_path
from trustable.policy.service import load_policy
from trustable.risk.generalize import generalise, search
from trustable.risk.schemas import Generalisation
from trustable.risk.service import reach, read_movielens, risk_spec


def levels(found: Generalisation) -> tuple[int, ...]:
    return tuple(level.level for level in found.levels)


def test_the_least_lossy_minimal_generalisation_wins_on_a_case_worked_by_hand() -> None:
    # Six people, k = 2. As they are, all six are unique. Two single steps reach k:
    #   zip to 1 digit (1, 0): groups {1*,21}, {1*,22}, {1*,23} of 2: discernibility 12;
    #   age to bands of 10 (0, 1): groups {12,20-29}, {13,20-29} of 3: discernibility 18.
    # Both are minimal (nothing below them reaches 2) and equally high; (1, 0) tells
    # people apart better, so it wins, though (0, 1) comes first in level order.
    rows = [("12", 21), ("13", 21), ("12", 22), ("13", 22), ("12", 23), ("13", 23)]
    found = reach(table((ZIP, AGE), *rows), 2)
    assert levels(found) == (1, 0)
    assert found.k == 2 and found.classes == 3 and found.discernibility == 12
    assert found.minimal == 2 and found.suppressed == 0
    assert found.after.k == 2 and found.after.unique == 0


def test_equal_loss_is_decided_by_the_lower_normalised_height() -> None:
    # (1, 0) and (0, 1) both give two groups of 2 (discernibility 8); zip's step is half
    # its hierarchy (height 0.25), gender's is all of it (0.5): zip is coarsened.
    rows = [("12", "M"), ("12", "F"), ("13", "M"), ("13", "F")]
    found = reach(table((ZIP, GENDER), *rows), 2)
    assert levels(found) == (1, 0) and found.height == pytest.approx(0.25)


def test_nodes_above_one_that_reaches_k_are_never_evaluated() -> None:
    rows = [("12", "M"), ("12", "M"), ("13", "F"), ("13", "F")]
    found = search((ZIP, GENDER), rows, 2)
    assert found.chosen.levels == (0, 0)
    assert found.evaluated == 1 and found.lattice == 6


def test_suppression_removes_outliers_but_never_more_than_allowed() -> None:
    rows = [("12", "M")] * 10 + [("99", "F")]
    # Without suppression the one outlier forces everything to be hidden.
    assert levels(reach(table((ZIP, GENDER), *rows), 5)) == (2, 1)
    # 10% of 11 records is 1: the outlier is suppressed and everyone else kept exact.
    kept = reach(table((ZIP, GENDER), *rows), 5, max_suppressed=0.10)
    assert levels(kept) == (0, 0) and kept.suppressed == 1 and kept.allowed_suppressed == 1
    assert kept.after.records == 10 and kept.after.k == 10
    # 5% of 11 is 0.55: not even one record may go.
    assert reach(table((ZIP, GENDER), *rows), 5, max_suppressed=0.05).suppressed == 0
    with pytest.raises(InvalidInput, match="at most 10%"):
        reach(table((ZIP, GENDER), *rows), 5, max_suppressed=0.2)


def test_bad_k_and_unreachable_k_are_clear_errors() -> None:
    rows = [("12", "M"), ("13", "F"), ("14", "F")]
    with pytest.raises(InvalidInput, match="at least 2"):
        reach(table((ZIP, GENDER), *rows), 1)
    with pytest.raises(InvalidInput, match="only 3 records"):
        reach(table((ZIP, GENDER), *rows), 4)
    with pytest.raises(InvalidInput, match="only 0 records"):
        reach(table((ZIP, GENDER)), 2)


def test_movielens_generalised_puts_everyone_in_a_group_of_at_least_five() -> None:
    spec = risk_spec(load_policy(example_policy_path()))
    data = read_movielens(MOVIELENS / "ml-100k.user", spec)
    found = reach(data, 5)
    groups = Counter(generalise(data.hierarchies, data.records, levels(found)))
    assert sum(groups.values()) == 943 and min(groups.values()) >= 5
    assert found.k == found.after.k == min(groups.values())
    assert found.suppressed == 0 and found.after.below_target == 0
    # With 1% of outliers suppressed, more detail survives: age in bands of 5, gender.
    detailed = reach(data, 5, max_suppressed=0.01)
    assert detailed.suppressed <= 9 and detailed.after.k >= 5
    assert detailed.classes > found.classes
