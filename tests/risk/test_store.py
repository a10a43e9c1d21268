"""Risk over the store: traits opened per customer in memory, exports only for
customers who permit analytics, a ledger entry that holds no value."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.risk.support import ANALYTICS, PERSONALIZE, person
from trustable.bootstrap import Trustable
from trustable.core.errors import InvalidInput
from trustable.identity.service import find_customer
from trustable.ledger.service import entries_of_kind
from trustable.risk.export import LEDGER_KIND, record_export, write_export
from trustable.risk.service import measure, read_store

USERS = ("a1", "a2", "a3", "a4", "a5", "p1")


def identifying(app: Trustable) -> list[bytes]:
    """Every id, identifier and pseudonym of the shop's customers, as bytes."""
    found: list[bytes] = [b"@example.org", b"99999", b"cus_"]
    with app.reader() as uow:
        for user in USERS:
            customer_id = find_customer(uow, app.vault, "user_id", user)
            assert customer_id is not None
            found += [customer_id.encode(), app.vault.pseudonym(customer_id).encode()]
    return found


@pytest.fixture
def shop(app: Trustable) -> Trustable:
    person(app, "a1", ANALYTICS, zip="10115", age=36, gender="F")
    person(app, "a2", ANALYTICS, zip="10115", age=36, gender="F")
    person(app, "a3", ANALYTICS, zip="10117", age=38, gender="F")
    person(app, "a4", ANALYTICS, zip="10117", age=38, gender="F")
    person(app, "a5", ANALYTICS, zip="10115", age=36)  # never said their gender
    person(app, "p1", PERSONALIZE, zip="99999", age=70, gender="M")  # no analytics
    return app


def record_with(app: Trustable) -> Callable[[dict[str, object]], int]:
    """Commits the export's ledger entry, as `trustable risk export` does."""

    def record(detail: dict[str, object]) -> int:
        with app.uow() as uow:
            index = record_export(uow, app.vault, detail, actor="test", now=app.clock())
            uow.commit()
        return index

    return record


def test_measuring_the_store_reads_every_customer_and_counts_missing_values(
    shop: Trustable,
) -> None:
    seen: list[int] = []
    data = read_store(shop.reader, shop.vault, shop.policy, for_export=False, progress=seen.append)
    assert data.info.records == 6 and seen[-1] == 6
    assert data.info.unknown == {"traits.zip": 0, "traits.age": 0, "traits.gender": 1}
    found = measure(data, target=2)
    # (10115, 36, F) x2, (10117, 38, F) x2, and two alone: a5 (gender *) and p1.
    assert found.k == 1 and found.unique == 2 and found.classes == 4
    assert data.attributes == () and all(extra == () for extra in data.extras)


def test_a_customer_whose_key_is_gone_is_skipped(shop: Trustable) -> None:
    with shop.reader() as uow:
        gone = find_customer(uow, shop.vault, "user_id", "p1")
    assert gone is not None and shop.vault.destroy_key(gone)
    data = read_store(shop.reader, shop.vault, shop.policy, for_export=False)
    assert data.info.records == 5 and data.info.skipped_no_key == 1


def test_an_export_holds_only_analytics_customers_reaches_k_and_logs_no_value(
    shop: Trustable, tmp_path: Path
) -> None:
    data = read_store(shop.reader, shop.vault, shop.policy, for_export=True)
    assert data.info.records == 5 and data.info.not_permitted == 1
    assert data.info.purpose == ANALYTICS
    out = tmp_path / "export.csv"
    report = write_export(data, 2, out, record=record_with(shop))
    assert report.rows == 5 and report.written.k >= 2
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["zip", "age", "gender"]
    assert len(rows) == 6 and all(len(row) == 3 for row in rows)
    body = out.read_bytes()
    assert not any(value in body for value in identifying(shop)), "an id in the export"
    assert report.generalisation.level_map() == {
        "traits.zip": 0,
        "traits.age": 0,
        "traits.gender": 1,
    }
    assert (
        sorted(tuple(r) for r in rows[1:])
        == [("10115", "36", "*")] * 3 + [("10117", "38", "*")] * 2
    )
    with shop.reader() as uow:
        [entry] = list(entries_of_kind(uow, LEDGER_KIND))
    content = entry.content()
    assert entry.index == report.ledger_index
    assert content["subject"] is None and content["actor"] == "test"
    assert content["detail"] == {
        "k": 2,
        "k_reached": 2,
        "rows": 5,
        "suppressed": 0,
        "not_permitted": 1,
        "purpose": ANALYTICS,
        "levels": {"traits.zip": 0, "traits.age": 0, "traits.gender": 1},
    }
    for value in (b"10115", b"10117", b'"36"', b'"F"', *identifying(shop)):
        assert value not in entry.body


def test_an_export_that_cannot_reach_k_writes_nothing_and_logs_nothing(
    shop: Trustable, tmp_path: Path
) -> None:
    data = read_store(shop.reader, shop.vault, shop.policy, for_export=True)
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / "export.csv"
    with pytest.raises(InvalidInput, match="only 5 records"):
        write_export(data, 6, out, record=record_with(shop))
    assert list(folder.iterdir()) == []
    with shop.reader() as uow:
        assert list(entries_of_kind(uow, LEDGER_KIND)) == []
    out.write_text("kept\n")
    with pytest.raises(InvalidInput, match="already exists"):
        write_export(data, 2, out, record=record_with(shop))
    assert out.read_text() == "kept\n"
    with pytest.raises(InvalidInput, match="no such folder"):
        write_export(data, 2, tmp_path / "nowhere" / "x.csv")
