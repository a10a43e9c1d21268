"""Insert-or-update in the dialect at hand (SQLite and PostgreSQL share the syntax).

Built statements are cached, so SQLAlchemy's compiled-statement cache serves them
and the hot collection path does not rebuild them for every batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from trustable.storage.uow import UnitOfWork

UpdateBuilder = Callable[[Any], dict[str, Any]]


def _insert(dialect: str, table: Table) -> Any:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def insert_for(uow: UnitOfWork, table: Table) -> Any:
    """`INSERT` with `ON CONFLICT` support for the unit of work's dialect."""
    return _insert(uow.dialect, table)


@lru_cache(maxsize=256)
def _upsert_statement(
    dialect: str,
    table: Table,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    update: UpdateBuilder | None,
) -> Any:
    stmt = _insert(dialect, table)
    if update is None:
        values = {c: stmt.excluded[c] for c in columns if c not in keys}
    else:
        values = update(stmt)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=values)


def upsert(
    uow: UnitOfWork,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: UpdateBuilder | None = None,
) -> None:
    """Insert `rows`; on a conflict over `keys`, set what `update(stmt)` returns.

    By default the conflicting row takes the new values (`stmt.excluded`). Pass a
    module-level function as `update`, so the built statement can be cached.
    """
    if not rows:
        return
    stmt = _upsert_statement(uow.dialect, table, tuple(keys), tuple(rows[0]), update)
    uow.connection.execute(stmt, list(rows))


@lru_cache(maxsize=256)
def _ignoring_statement(dialect: str, table: Table) -> Any:
    return _insert(dialect, table).on_conflict_do_nothing()


def insert_ignoring_conflicts(
    uow: UnitOfWork, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    uow.connection.execute(_ignoring_statement(uow.dialect, table), list(rows))
