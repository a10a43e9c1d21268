"""On a Citus coordinator, the store is distributed by customer.

Per-customer tables become distributed tables co-located with `customers`, the
identifiers a reference table, everything else Citus local tables on the
coordinator (`storage.citus` says why). A store on plain PostgreSQL or SQLite is left
as it is; running this again on a distributed store changes nothing.

Revision ID: data_0022
Revises: data_0021
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

from alembic import context, op

from trustable.storage.citus import distribute, is_citus
from trustable.storage.partitions import wanted_count

revision = "data_0022"
down_revision = "data_0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if not is_citus(conn):
        return
    distribute(conn, shard_count=wanted_count(context.config.attributes.get("partitions")))


def downgrade() -> None:
    # Undistributing (`undistribute_table`) would pull every shard back to the
    # coordinator: a move to make on purpose, not as a side effect of a downgrade.
    pass
