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
from sqlalchemy.exc import DBAPIError

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


# From this many rows on PostgreSQL, COPY: one stream instead of a statement per row
# (psycopg pipelines executemany, but each row is still a statement to plan and run).
COPY_FROM = 64


def bulk_insert(
    uow: UnitOfWork, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert `rows` (values already in driver form, in `columns` order)."""
    if not rows:
        return
    conn = uow.connection
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        _copy(uow, table, tuple(columns), rows)
        return
    conn.exec_driver_sql(_statement(table, tuple(columns), conn.dialect.paramstyle), list(rows))


def _copy(
    uow: UnitOfWork, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    import psycopg

    _statement(table, columns, "format")  # the same check of the column names
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    driver = uow.connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        # As SQLAlchemy would have raised it: a unique violation is an IntegrityError
        # to the callers that retry on one, a lost connection an OperationalError.
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


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
