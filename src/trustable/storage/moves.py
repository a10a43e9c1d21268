"""Giving rows to another customer, on every store.

Joining two histories (and undoing a join) gives rows of one customer to another:
an `UPDATE … SET customer_id`. PostgreSQL moves such a row to its new partition by
itself; Citus refuses to change a row's distribution column in place, since the row
may belong on another node. There the rows are copied with their new values and the
old ones deleted, in the same transaction, which is the same change seen from outside.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, delete, insert, literal, select, update

from trustable.storage.partitions import KEY, PARTITIONED
from trustable.storage.uow import UnitOfWork


def reassign(
    uow: UnitOfWork, table: Table, which: ColumnElement[bool], values: dict[str, Any]
) -> int:
    """`UPDATE table SET values WHERE which`, also where `values` gives the rows
    another customer on Citus; the number of rows changed. A value may be a SQL
    expression over the row as it was (`func.coalesce(table.c.history, …)`)."""
    conn = uow.connection
    if KEY not in values or table.name not in PARTITIONED or not uow.distributed:
        return int(conn.execute(update(table).where(which).values(**values)).rowcount)
    columns = list(table.c)
    shown = [
        (
            values[c.name]
            if isinstance(values[c.name], ColumnElement)
            else literal(values[c.name], type_=c.type)
        ).label(c.name)
        if c.name in values
        else c
        for c in columns
    ]
    moved = conn.execute(
        insert(table).from_select([c.name for c in columns], select(*shown).where(which))
    ).rowcount
    conn.execute(delete(table).where(which))
    return int(moved)
