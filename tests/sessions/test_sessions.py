"""Browser sessions: only a keyed hash is stored, they end when idle, at their
lifetime, at sign-out and with their customer; CSRF tokens belong to one session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.helpers import raw_dump
from tests.rights.support import customer
from trustable.bootstrap import Trustable
from trustable.portal.service import LinkRejected, issue_link, redeem_link, sweep_links
from trustable.sessions.service import (
    LIMITS,
    SessionKind,
    close_session,
    csrf_matches,
    find_session,
    open_session,
    sweep_expired,
)
from trustable.sessions.tables import web_sessions


def test_only_a_keyed_hash_of_the_cookie_is_stored(app: Trustable) -> None:
    ada = customer(app)
    with app.uow() as uow:
        token, session = open_session(
            uow, app.vault, kind=SessionKind.portal, customer_id=ada, now=app.clock()
        )
        uow.commit()
    assert token.encode() not in raw_dump(app.engine)
    assert csrf_matches(app.vault, token, session.csrf)
    with app.uow() as uow:
        other, _ = open_session(
            uow, app.vault, kind=SessionKind.portal, customer_id=ada, now=app.clock()
        )
        uow.commit()
    assert not csrf_matches(app.vault, other, session.csrf)  # tokens are per session
    assert not csrf_matches(app.vault, token, None) and not csrf_matches(app.vault, token, "")


def test_sessions_end_when_idle_at_their_lifetime_and_at_sign_out(app: Trustable) -> None:
    ada = customer(app)
    start = app.clock()
    limits = LIMITS[SessionKind.portal]
    with app.uow() as uow:
        token, _ = open_session(uow, app.vault, kind=SessionKind.portal, customer_id=ada, now=start)
        uow.commit()

    def alive(at_minutes: float, kind: SessionKind = SessionKind.portal) -> bool:
        with app.uow() as uow:
            now = start + timedelta(minutes=at_minutes)
            found = find_session(uow, app.vault, token, kind=kind, now=now)
            uow.commit()
        return found is not None

    assert not alive(1, SessionKind.console)  # a portal cookie opens no console
    step = limits.idle.total_seconds() / 60 - 1
    at = 0.0
    while at + step < limits.lifetime.total_seconds() / 60:  # active: kept alive...
        at += step
        assert alive(at)
    assert not alive(limits.lifetime.total_seconds() / 60 + 1)  # ...until its lifetime
    with app.uow() as uow:
        token, _ = open_session(uow, app.vault, kind=SessionKind.portal, customer_id=ada, now=start)
        uow.commit()
    assert not alive(limits.idle.total_seconds() / 60 + 1)  # idle too long
    with app.uow() as uow:
        token, _ = open_session(uow, app.vault, kind=SessionKind.portal, customer_id=ada, now=start)
        assert close_session(uow, app.vault, token)
        uow.commit()
    assert not alive(1)


def test_expired_sessions_and_links_are_swept(app: Trustable) -> None:
    ada = customer(app)
    now = app.clock()
    with app.uow() as uow:
        open_session(uow, app.vault, kind=SessionKind.portal, customer_id=ada, now=now)
        link, _ = issue_link(uow, app.vault, ada, actor="test", now=now)
        uow.commit()
    later = now + LIMITS[SessionKind.portal].lifetime + timedelta(seconds=1)
    with app.uow() as uow:
        assert sweep_expired(uow, now) == 0 and sweep_links(uow, now) == 0
        assert sweep_expired(uow, later) == 1 and sweep_links(uow, later) == 1
        assert uow.connection.execute(select(web_sessions)).first() is None
        uow.commit()
    with app.uow() as uow, pytest.raises(LinkRejected):
        redeem_link(uow, app.vault, link, now=now)
