"""Insert-or-update in the dialect at hand (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from trustable.storage.uow import UnitOfWork


def insert_for(uow: UnitOfWork, table: Table) -> Any:
    """`INSERT` with `ON CONFLICT` support for the unit of work's dialect."""
    if uow.dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(
    uow: UnitOfWork,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Callable[[Any], dict[str, Any]] | None = None,
) -> None:
    """Insert `rows`; on a conflict over `keys`, set what `update(stmt)` returns.

    By default the conflicting row takes the new values (`stmt.excluded`).
    """
    if not rows:
        return
    stmt = insert_for(uow, table)
    if update is None:
        values = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    else:
        values = update(stmt)
    final: Insert = stmt.on_conflict_do_update(index_elements=list(keys), set_=values)
    uow.connection.execute(final, list(rows))


def insert_ignoring_conflicts(
    uow: UnitOfWork, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    stmt = insert_for(uow, table).on_conflict_do_nothing()
    uow.connection.execute(stmt, list(rows))
