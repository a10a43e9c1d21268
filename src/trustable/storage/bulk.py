"""Many plain rows straight to the database driver, for the collection hot path.

SQLAlchemy converts every value of every row through its column type; for rows of
plain values that costs more than the insert itself. `bulk_insert` builds the
statement from the table's own definition and hands the tuples to the driver's
executemany; `driver_time` gives a moment in the form the driver stores (what
`UtcDateTime` would have produced).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Table

from trustable.storage.types import UtcDateTime
from trustable.storage.uow import UnitOfWork

_TIME = UtcDateTime()


@lru_cache(maxsize=64)
def _statement(table: Table, columns: tuple[str, ...], paramstyle: str) -> str:
    for name in columns:
        if name not in table.c:
            raise ValueError(f"{table.name} has no column {name}")
    mark = "?" if paramstyle == "qmark" else "%s"
    names = ", ".join(columns)
    return f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([mark] * len(columns))})"


def bulk_insert(
    uow: UnitOfWork, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert `rows` (values already in driver form, in `columns` order)."""
    if not rows:
        return
    conn = uow.connection
    conn.exec_driver_sql(_statement(table, tuple(columns), conn.dialect.paramstyle), list(rows))


def delete_customer_rows(
    uow: UnitOfWork, customer_id: str, tables: Mapping[str, Table]
) -> dict[str, int]:
    """Delete one customer's rows from each table, through its indexed `customer_id`
    (erasure); how many went, by the given names."""
    conn = uow.connection
    return {
        name: int(conn.execute(table.delete().where(table.c.customer_id == customer_id)).rowcount)
        for name, table in tables.items()
    }


def driver_time(uow: UnitOfWork, moment: datetime) -> Any:
    return _TIME.process_bind_param(moment, uow.connection.dialect)
