"""The policy's own example on real rows: MovieLens ratings of science fiction."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime

import pytest

from tests.conftest import MOVIELENS
from tests.segments.support import SCI_FI, customer, members
from trustable.bootstrap import bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.demo.movielens import import_movielens

LIMIT = 5000


def fans_by_hand(limit: int) -> set[str]:
    """Who rated five or more Sci-Fi films 4 stars or more in the 90 days before the
    newest rating, straight from the files (the import lands the newest at `now`)."""
    with (MOVIELENS / "ml-100k.item").open(encoding="latin-1") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))[1:]
    genres = {r[0]: r[3].split() for r in rows}
    with (MOVIELENS / "ml-100k.inter").open() as handle:
        ratings = list(csv.reader(handle, delimiter="\t"))[1 : limit + 1]
    newest = max(float(r[3]) for r in ratings)
    counted = Counter(
        user
        for user, item, stars, at in ratings
        if float(stars) >= 4 and "Sci-Fi" in genres[item] and float(at) >= newest - 90 * 86400
    )
    return {f"ml-{user}" for user, n in counted.items() if n >= 5}


@pytest.mark.skipif(not MOVIELENS.exists(), reason="MovieLens 100K is not beside the project")
def test_the_sci_fi_fans_of_movielens_are_who_the_files_say(settings: Settings) -> None:
    app = bootstrap(settings, clock=FixedClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC)))
    try:
        import_movielens(app, MOVIELENS, limit=LIMIT)
        expected = fans_by_hand(LIMIT)
        assert len(expected) == 3
        assert members(app, SCI_FI) == {customer(app, user) for user in expected}
    finally:
        app.close()
