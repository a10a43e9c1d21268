"""Measuring: equivalence classes, k, uniques and the class-size distribution."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import MOVIELENS
from tests.risk.support import AGE, GENDER, ZIP, table
from trustable.core.errors import InvalidInput
from trustable.core.settings import example_policy_path
from trustable.policy.service import load_policy
from trustable.risk.schemas import Measurement
from trustable.risk.service import measure, read_movielens, risk_spec

USERS = MOVIELENS / "ml-100k.user"


def sizes(measurement: Measurement) -> dict[str, tuple[int, int]]:
    return {b.label: (b.classes, b.people) for b in measurement.distribution}


def test_a_hand_made_table_measures_k_uniques_and_the_distribution() -> None:
    rows = (
        [("10115", 36, "F")] * 5  # one group of 5
        + [("10117", 41, "M")] * 3  # one of 3
        + [("20095", 29, "F")] * 2  # one of 2
        + [("80331", 52, "M"), ("80331", 53, "M")]  # two alone: ages differ
        + [("50667", 30, "F")] * 10  # one of 10
    )
    found = measure(table((ZIP, AGE, GENDER), *rows), target=5)
    assert found.records == 22
    assert found.classes == 6
    assert found.k == 1
    assert found.unique == 2 and found.unique_share == pytest.approx(2 / 22)
    assert sizes(found) == {
        "1": (2, 2),
        "2": (1, 2),
        "3-4": (1, 3),
        "5-9": (1, 5),
        "10+": (1, 10),
    }
    assert found.below_target == 2 + 2 + 3  # everyone outside the groups of 5 and 10
    # Coarser: ages in bands of 10 join the two 80331 people, zips of 2 digits join 10115/7.
    coarse = measure(table((ZIP, AGE, GENDER), *rows), target=5, levels=(1, 1, 0))
    assert coarse.unique == 0 and coarse.k == 2


def test_a_missing_or_unfit_value_counts_as_unknown_and_groups_with_the_unknowns() -> None:
    rows = [("10115", None, "F"), ("10115", "about forty", "F"), ("10115", 36, "F")]
    found = measure(table((ZIP, AGE, GENDER), *rows), target=2)
    assert found.classes == 2 and found.unique == 1  # the two unknown ages share a group
    assert AGE.apply("about forty", 0) == "*" and AGE.apply(None, 1) == "*"


def test_hierarchies_coarsen_step_by_step() -> None:
    assert [ZIP.apply("10115", level) for level in range(3)] == ["10115", "1*", "*"]
    assert [AGE.apply(36, level) for level in range(3)] == ["36", "30-39", "*"]
    assert [GENDER.apply("F", level) for level in range(2)] == ["F", "*"]
    assert ZIP.describe(1) == "first 1 character" and AGE.describe(1) == "bands of 10"


def test_movielens_most_people_are_unique_on_zip_age_and_gender() -> None:
    spec = risk_spec(load_policy(example_policy_path()))
    found = measure(read_movielens(USERS, spec), target=spec.k)
    # An independent count, straight from the file.
    with USERS.open(encoding="latin-1", newline="") as handle:
        people = list(csv.DictReader(handle, delimiter="\t"))
    keys = Counter((p["zip_code:token"], p["age:token"], p["gender:token"]) for p in people)
    unique = sum(
        1 for p in people if keys[(p["zip_code:token"], p["age:token"], p["gender:token"])] == 1
    )
    assert len(people) == 943 and found.records == 943
    assert found.unique == unique == 917
    assert found.unique > 943 / 2
    assert found.k == 1 and found.classes == len(keys)


def test_an_unreadable_or_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    spec = risk_spec(load_policy(example_policy_path()))
    with pytest.raises(InvalidInput, match="no such file"):
        read_movielens(tmp_path / "nope.user", spec)
    with pytest.raises(InvalidInput, match="is a folder"):
        read_movielens(tmp_path, spec)
    other = tmp_path / "other.tsv"
    other.write_text("id:token\tname:token\n1\tx\n")
    with pytest.raises(InvalidInput, match="not MovieLens 100K's user file"):
        read_movielens(other, spec)
    broken = tmp_path / "broken.user"
    broken.write_text(USERS.read_text(encoding="latin-1").splitlines()[0] + "\n1\t24\n")
    with pytest.raises(InvalidInput, match="line 2 has 2 columns"):
        read_movielens(broken, spec)
