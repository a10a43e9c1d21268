"""Alembic, run from code: each store has its own migration history.

`storage/migrations/data` migrates the data store, `storage/migrations/keys` the key
store; each records its revision in its own `alembic_version` table.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from trustable.storage.engine import ensure_schema
from trustable.storage.partitions import refuse_other_count

Store = Literal["data", "keys"]


def _config(store: Store) -> Config:
    location = resources.files("trustable.storage").joinpath("migrations", store)
    config = Config()
    config.set_main_option("script_location", str(location))
    return config


def upgrade(
    engine: Engine, store: Store, revision: str = "head", *, partitions: int | None = None
) -> None:
    """Bring `engine`'s schema to `revision` (creating the PostgreSQL schema if needed).

    `partitions`: how many partitions a PostgreSQL data store's per-customer tables get
    when they are partitioned (`storage.partitions`); a store partitioned already
    refuses any other count rather than ignore it.
    """
    ensure_schema(engine)
    config = _config(store)
    with engine.begin() as connection:
        if store == "data":
            refuse_other_count(connection, partitions)
        config.attributes["connection"] = connection
        config.attributes["partitions"] = partitions
        command.upgrade(config, revision)


def downgrade(engine: Engine, store: Store, revision: str) -> None:
    """Take `engine`'s schema back to `revision` (`-1`: one step), for an operator
    undoing an upgrade; no command runs it on its own."""
    config = _config(store)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def new_revision(engine: Engine, store: Store, message: str) -> None:
    """Autogenerate a revision from the difference between `engine` and the tables."""
    from trustable.storage.tables import all_tables

    config = _config(store)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["target_metadata"] = all_tables(store)
        command.revision(config, message=message, autogenerate=True)


def head_revision(store: Store) -> str | None:
    return ScriptDirectory.from_config(_config(store)).get_current_head()


def run_env() -> None:
    """Body of both `env.py` files: migrate on the connection handed in by `upgrade`."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("Trustable migrations run through `trustable db upgrade`")
    context.configure(
        connection=connection,
        render_as_batch=True,
        # Set only when a developer autogenerates a revision (`migrate.new_revision`).
        target_metadata=context.config.attributes.get("target_metadata"),
    )
    with context.begin_transaction():
        context.run_migrations()
