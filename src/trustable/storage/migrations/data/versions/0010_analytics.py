"""Aggregates: each analyst's privacy budget spent.

Revision ID: data_0010
Revises: data_0009
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

revision = "data_0010"
down_revision = "data_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
