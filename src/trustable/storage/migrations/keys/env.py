"""Alembic environment: see `trustable.storage.migrate`."""

from trustable.storage.migrate import run_env

run_env()
