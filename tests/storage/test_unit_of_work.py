"""The unit of work: nothing lands without commit; readers never block a writer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from trustable.bootstrap import Trustable
from trustable.identity.tables import customers

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def count(app: Trustable) -> int:
    with app.reader() as uow:
        return int(uow.connection.execute(select(func.count()).select_from(customers)).scalar_one())


def add(uow_connection: object, customer_id: str) -> None:
    uow_connection.execute(  # type: ignore[attr-defined]
        insert(customers).values(customer_id=customer_id, created_at=NOW, merged_into=None)
    )


def test_work_without_commit_is_rolled_back(app: Trustable) -> None:
    with app.uow() as uow:
        add(uow.connection, "cus_a")
    assert count(app) == 0


def test_an_error_inside_the_unit_rolls_everything_back(app: Trustable) -> None:
    with pytest.raises(RuntimeError), app.uow() as uow:
        add(uow.connection, "cus_a")
        add(uow.connection, "cus_b")
        raise RuntimeError("the ledger entry could not be written")
    assert count(app) == 0


def test_committed_work_lands_whole(app: Trustable) -> None:
    with app.uow() as uow:
        add(uow.connection, "cus_a")
        add(uow.connection, "cus_b")
        uow.commit()
    assert count(app) == 2


def test_a_reader_open_during_a_write_does_not_block_it(app: Trustable) -> None:
    with app.reader() as reading:
        reading.connection.execute(select(func.count()).select_from(customers)).scalar_one()
        with app.uow() as writing:
            add(writing.connection, "cus_a")
            writing.commit()
    assert count(app) == 1


def test_a_reader_cannot_commit(app: Trustable) -> None:
    with app.reader() as uow, pytest.raises(RuntimeError, match="read-only"):
        uow.commit()


def test_a_second_writer_in_the_same_thread_fails_instead_of_hanging() -> None:
    from trustable.storage.uow import StoreBusy, WriterLock

    lock = WriterLock(timeout=0.05)
    with lock, pytest.raises(StoreBusy, match="busy"), lock:
        pass
