"""Upgrading a store from before sign-ins had a channel of their own (data_0015): the
portal sign-ins it stored as access requests by email become `sign_in`, so the
dashboard stops counting them among the requests customers file; every row the old
code left no way to tell apart stays a request, so none that must be answered is
hidden."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings
from trustable.dashboard.service import request_figures
from trustable.rights.tables import rights_requests
from trustable.storage.engine import make_engine
from trustable.storage.migrate import current_revision, head_revision, upgrade

BEFORE = "data_0015"
ASKED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ANSWERED = ASKED + timedelta(minutes=1)
# request_id -> (kind, channel, state, customer, verified, token): as the code of
# data_0015 stored them, and what each was.
STORED: dict[str, tuple[str, str, str, str | None, bool, str | None]] = {
    # A sign-in: access by email, verified, answered by showing the portal, no token.
    "req_signin": ("access", "email", "done", "cus_ada", True, None),
    # An access request by email confirmed through the API: it got a token.
    "req_mailed": ("access", "email", "done", "cus_ada", True, "a" * 64),
    # A code never entered: sign-in or request, the row does not say; it stays.
    "req_unconfirmed": ("access", "email", "received", "cus_ada", False, None),
    # A customer since erased: customer and token both cleared; it stays.
    "req_erased": ("access", "email", "done", None, True, None),
    # Other kinds and channels are requests whatever their token.
    "req_erase": ("erase", "email", "done", "cus_ada", True, None),
    "req_portal": ("access", "portal", "done", "cus_ada", True, None),
}
CONVERTED = {"req_signin"}


def _row(request_id: str) -> dict[str, Any]:
    kind, channel, state, customer_id, verified, token = STORED[request_id]
    return {
        "request_id": request_id,
        "customer_id": customer_id,
        "kind": kind,
        "state": state,
        "channel": channel,
        "jurisdiction": None,
        "received_at": ASKED,
        "due_at": ASKED + timedelta(days=30),
        "verified_at": ANSWERED if verified else None,
        "completed_at": ANSWERED if state == "done" else None,
        "refusal": None,
        "detail": "{}",
        "sealed": None,
        "token_hash": token,
        "token_expires_at": ASKED + timedelta(days=30) if token else None,
    }


@pytest.fixture
def old_store(settings: Settings) -> Iterator[Settings]:
    """A store at data_0015 with requests as the code of then wrote them (the table's
    columns have not changed since, so today's declaration inserts them)."""
    engine = make_engine(settings.database_url)
    keys = make_engine(settings.keystore_url)
    try:
        upgrade(keys, "keys")
        upgrade(engine, "data", BEFORE)
        with engine.begin() as conn:
            conn.execute(rights_requests.insert(), [_row(r) for r in STORED])
        assert current_revision(engine) == BEFORE
        yield settings
    finally:
        engine.dispose()
        keys.dispose()


def channels(settings: Settings) -> dict[str, str]:
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(rights_requests.c.request_id, rights_requests.c.channel))
            return {request_id: channel for request_id, channel in rows}
    finally:
        engine.dispose()


def test_the_upgrade_turns_only_certain_sign_ins_into_sign_ins(old_store: Settings) -> None:
    app: Trustable = bootstrap(old_store)  # bootstrap migrates to the head
    try:
        assert current_revision(app.engine) == head_revision("data")
        assert channels(old_store) == {
            request_id: "sign_in" if request_id in CONVERTED else STORED[request_id][1]
            for request_id in STORED
        }
        with app.reader() as uow:
            figures = request_figures(
                uow, start=ASKED - timedelta(days=1), end=ASKED + timedelta(days=1), now=ANSWERED
            )
        access = next(f for f in figures if f.kind == "access")
        # Four access requests were stored; the sign-in is no longer among them.
        assert (access.received, access.completed, access.open) == (4, 3, 1)
    finally:
        app.close()
