"""`column IN (…)` that PostgreSQL sees as the same statement whatever the count.

An `IN` list renders one placeholder per value, so every batch of another size is
new SQL: SQLAlchemy renders it again, psycopg parses it again, and PostgreSQL plans
it again. On partitioned tables that planning costs more than running the query
(1 to 5 ms for a hundred customers over sixteen partitions). On PostgreSQL the
values therefore travel as one array, `column = ANY(%(values)s)`: one statement
text, which psycopg prepares after a few runs and PostgreSQL then plans once.
SQLite has no arrays and plans cheaply: there it stays an `IN` list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY


def among(dialect: str, column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column` is one of `values` (`dialect`: the unit of work's)."""
    wanted = list(values)
    if dialect == "postgresql":
        array = bindparam(None, wanted, type_=ARRAY(column.type), unique=True)
        return column == any_(array)
    return column.in_(wanted)
