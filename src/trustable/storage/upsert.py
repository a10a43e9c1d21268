"""Insert-or-update in the dialect at hand (SQLite and PostgreSQL share the syntax).

Built statements are cached, so SQLAlchemy's compiled-statement cache serves them
and the hot collection path does not rebuild them for every batch.

On PostgreSQL many rows travel as one array per column,
`INSERT … SELECT * FROM unnest(%(a)s, %(b)s, …)`: the statement text is the same
for any number of rows, so psycopg prepares it once and PostgreSQL parses it once,
where a multi-row `VALUES` would be new SQL for every batch size (with three
placeholders a row to render, parse and plan). SQLite takes the rows as they are.
Citus takes them as pages of a multi-row `VALUES` (`run_rows`): it sends each shard
its rows in one task, where an `INSERT … SELECT` from a function runs on the
coordinator and routes its rows through intermediate results, and where psycopg's
plain executemany would send each row as a statement of its own, a round trip to a
worker per row (the `style` of a unit of work, `rows_style`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite

from trustable.storage.uow import UnitOfWork

UpdateBuilder = Callable[[Any], dict[str, Any]]


def _insert(style: str, table: Table) -> Any:
    return sqlite.insert(table) if style == "sqlite" else postgresql.insert(table)


def rows_style(uow: UnitOfWork) -> str:
    """How many rows travel: "postgresql" (arrays), "citus" or "sqlite" (rows)."""
    return "citus" if uow.distributed else uow.dialect


def insert_for(uow: UnitOfWork, table: Table) -> Any:
    """`INSERT` with `ON CONFLICT` support for the unit of work's dialect."""
    return _insert(uow.dialect, table)


@lru_cache(maxsize=256)
def rows_insert(style: str, table: Table, columns: tuple[str, ...]) -> Any:
    """`INSERT INTO table (columns)` of many rows, to be run with `row_params` (both
    given `rows_style(uow)`); it takes `ON CONFLICT` and `RETURNING` as `insert_for`
    does."""
    stmt = _insert(style, table)
    if style != "postgresql":
        return stmt
    arrays = [bindparam(f"rows_{c}", type_=postgresql.ARRAY(table.c[c].type)) for c in columns]
    rows = func.unnest(*arrays).table_valued(*columns).render_derived(name="rows")
    return stmt.from_select(list(columns), select(*rows.c))


def run_rows(
    uow: UnitOfWork, stmt: Any, style: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> Any:
    """Run `stmt` (from `rows_insert`, with any `ON CONFLICT` or `RETURNING`) for
    `rows`; its result."""
    if style == "citus":
        if not stmt.returning_column_descriptions:
            # With RETURNING, SQLAlchemy sends executemany's rows as pages of one
            # multi-row VALUES ("insertmanyvalues") built from one cached compilation.
            stmt = stmt.returning(literal_column("1"))
        return uow.connection.execute(stmt, list(rows))
    return uow.connection.execute(stmt, row_params(style, columns, rows))


def row_params(
    style: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]] | dict[str, Any]:
    """The parameters of `rows_insert` for `rows` (each holding every column)."""
    if style != "postgresql":
        return list(rows)
    return {f"rows_{c}": [r[c] for r in rows] for c in columns}


def insert_rows(uow: UnitOfWork, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (each holding the same columns) in one statement."""
    if not rows:
        return
    columns = tuple(rows[0])
    style = rows_style(uow)
    run_rows(uow, rows_insert(style, table, columns), style, columns, rows)


@lru_cache(maxsize=256)
def _upsert_statement(
    dialect: str,
    table: Table,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    update: UpdateBuilder | None,
) -> Any:
    stmt = rows_insert(dialect, table, columns)
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
    columns = tuple(rows[0])
    style = rows_style(uow)
    stmt = _upsert_statement(style, table, tuple(keys), columns, update)
    run_rows(uow, stmt, style, columns, rows)


@lru_cache(maxsize=256)
def _ignoring_statement(dialect: str, table: Table, columns: tuple[str, ...]) -> Any:
    return rows_insert(dialect, table, columns).on_conflict_do_nothing()


def insert_ignoring_conflicts(
    uow: UnitOfWork, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    columns = tuple(rows[0])
    style = rows_style(uow)
    run_rows(uow, _ignoring_statement(style, table, columns), style, columns, rows)
