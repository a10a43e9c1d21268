"""Portal sign-ins stored before they had a channel of their own become `sign_in`.

Until now a sign-in to the portal by mailed code was stored as an access request
filed by email (`kind` access, `channel` email), so the console's dashboard counted
every sign-in among the requests customers file. The code of now stores them with
channel `sign_in` (rights.service.Channel); this converts the rows it can tell apart.

Which rows: an access request by email that was verified, still belongs to a customer
and has no requester's token. Every request by email that is verified through the API
gets a token in the same transaction (rights.routes.verify), and a portal sign-in
never does, so these rows can only be sign-ins. Rows the old code left no trace to
tell apart stay as they are, counted as requests, rather than risk hiding a request
someone must answer: codes never entered (a sign-in abandoned looks like a request by
email never confirmed) and requests of customers since erased (erasure clears both
the customer and the token). The ledger keeps the entries it signed then (channel
email): it is append-only.

Revision ID: data_0016
Revises: data_0015
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0016"
down_revision = "data_0015"
branch_labels = None
depends_on = None

_requests = sa.table(
    "rights_requests",
    sa.column("kind", sa.String),
    sa.column("channel", sa.String),
    sa.column("customer_id", sa.String),
    sa.column("verified_at", sa.DateTime),
    sa.column("token_hash", sa.String),
)


def upgrade() -> None:
    op.execute(
        _requests.update()
        .where(
            _requests.c.kind == "access",
            _requests.c.channel == "email",
            _requests.c.verified_at.is_not(None),
            _requests.c.customer_id.is_not(None),
            _requests.c.token_hash.is_(None),
        )
        .values(channel="sign_in")
    )


def downgrade() -> None:
    # The code of data_0015 knows no `sign_in`: they go back to what it stored.
    op.execute(_requests.update().where(_requests.c.channel == "sign_in").values(channel="email"))
