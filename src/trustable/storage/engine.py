"""Engines for SQLite (the zero set-up default) and PostgreSQL (production).

A PostgreSQL URL may name a schema with `?schema=NAME`: Trustable then works only in
that schema (its `search_path`), which is how the key store lives apart from the data
store on one server and how tests isolate their data.
"""

from __future__ import annotations

import re
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from trustable.core.errors import ConfigurationError
from trustable.core.files import private_sqlite

# SQLite's page cache is per connection and fills as the file grows: at 32 MiB a
# connection, a pool of them grew the server by hundreds of MiB under sustained load
# before it levelled off. 4 MiB each, at most `SQLITE_POOL + SQLITE_OVERFLOW`
# connections a store: at most 60 MiB a store, usually far less (pages not in it
# come from the operating system's file cache, shared by all). Each connection also
# keeps up to `SQLITE_STATEMENTS` prepared statements.
SQLITE_CACHE_KIB = 4 * 1024
SQLITE_STATEMENTS = 64
SQLITE_POOL = 5
SQLITE_OVERFLOW = 10
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SCHEMAS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _split_schema(url: URL) -> tuple[URL, str | None]:
    schema = url.query.get("schema")
    if schema is None:
        return url, None
    if not isinstance(schema, str) or not _IDENTIFIER.match(schema):
        raise ConfigurationError("database URL: schema must be a lower-case SQL identifier")
    return url.difference_update_query(["schema"]), schema


def make_engine(url_text: str, *, pool_size: int = 5) -> Engine:
    """Build an engine; nothing connects until the first use."""
    try:
        url = make_url(url_text)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with the URL inside
        raise ConfigurationError("database URL could not be parsed") from exc
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if url.get_backend_name() == "postgresql":
        return _postgres_engine(url, pool_size)
    raise ConfigurationError(
        f"unsupported database '{url.get_backend_name()}': use sqlite or postgresql"
    )


def schema_of(engine: Engine) -> str | None:
    """The schema an engine was confined to, if any."""
    return _SCHEMAS.get(engine)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    if database and database != ":memory:":
        # Owner-only before SQLite first opens it: its -wal and -shm files take the
        # database file's mode, so they are owner-only too (`core.files`).
        private_sqlite(Path(database))
    engine = create_engine(
        url,
        connect_args={
            "check_same_thread": False,
            "timeout": 30,
            "cached_statements": SQLITE_STATEMENTS,
        },
        pool_size=SQLITE_POOL,
        max_overflow=SQLITE_OVERFLOW,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy own transactions (pysqlite's own BEGIN handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted and overwritten content is zeroed in the file, not left in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        # Checkpoints run in `storage.checkpoint.WalCheckpointer`, not inside commits.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writer takes the write lock at once (IMMEDIATE), so two writers queue
        # instead of failing later with "database is locked" on lock upgrade; a
        # reader (`read_only` execution option) does not take it at all.
        if conn.get_execution_options().get("read_only"):
            conn.exec_driver_sql("BEGIN DEFERRED")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: URL, pool_size: int) -> Engine:
    url, schema = _split_schema(url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    # Custom plans always: a generic plan cannot prune partitions by `= ANY(array)`
    # and would scan all of them (`storage.among`).
    options = "-cplan_cache_mode=force_custom_plan"
    if schema:
        options += f" -csearch_path={schema}"
    connect_args: dict[str, Any] = {"options": options}
    engine = create_engine(url, connect_args=connect_args, pool_size=pool_size, pool_pre_ping=True)
    if schema:
        _SCHEMAS[engine] = schema
    return engine


def ensure_schema(engine: Engine) -> None:
    """Create the engine's schema on PostgreSQL when it does not exist yet."""
    schema = schema_of(engine)
    if schema is None:
        return
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


def drop_schema(engine: Engine) -> None:
    """Remove the engine's schema and all in it (tests use this to clean up)."""
    schema = schema_of(engine)
    if schema is None:
        raise ConfigurationError("refusing to drop: this engine is not confined to a schema")
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
