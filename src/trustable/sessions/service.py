"""Browser sessions for the portal and the console.

A session is a random token in an HttpOnly cookie; the store keeps only its keyed
hash, so a copy of the table opens nothing. Sessions end when idle too long, at a
fixed lifetime however active, at sign-out, and with what they belong to: a
customer's at their erasure, a console user's when their password changes or they
are disabled. Each form carries a CSRF token derived from the session (a keyed
hash of its cookie), so nothing else is stored for it and another site cannot
forge one.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, delete, select, update

from trustable.sessions.tables import web_sessions
from trustable.storage.bulk import delete_customer_rows
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

TOKEN_BYTES = 32
TOUCH_EVERY = timedelta(minutes=1)  # how stale `last_seen_at` may get before a write


class SessionKind(StrEnum):
    portal = "portal"
    console = "console"


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    lifetime: timedelta


# A customer signs in for a task; the privacy team works a day.
LIMITS = {
    SessionKind.portal: Limits(idle=timedelta(minutes=30), lifetime=timedelta(hours=4)),
    SessionKind.console: Limits(idle=timedelta(hours=1), lifetime=timedelta(hours=12)),
}


@dataclass(frozen=True)
class Session:
    kind: SessionKind
    customer_id: str | None
    user_id: str | None
    created_at: datetime
    expires_at: datetime
    csrf: str  # the token every form of this session must carry back


def _hash(vault: Vault, token: str) -> str:
    return vault.blind_index("web_session", token)


def csrf_token(vault: Vault, token: str) -> str:
    return vault.blind_index("csrf", token)


def csrf_matches(vault: Vault, token: str, given: str | None) -> bool:
    """Constant-time check of a form's CSRF token against its session's."""
    return bool(given) and hmac.compare_digest(csrf_token(vault, token), str(given))


def open_session(
    uow: UnitOfWork,
    vault: Vault,
    *,
    kind: SessionKind,
    now: datetime,
    customer_id: str | None = None,
    user_id: str | None = None,
) -> tuple[str, Session]:
    """A new session; the token (for the cookie) is returned once and never stored."""
    if (customer_id is None) == (user_id is None):
        raise ValueError("a session belongs to a customer or to a console user")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    limits = LIMITS[kind]
    expires = now + limits.lifetime
    uow.connection.execute(
        web_sessions.insert(),
        [
            {
                "session_hash": _hash(vault, token),
                "kind": kind.value,
                "customer_id": customer_id,
                "user_id": user_id,
                "created_at": now,
                "last_seen_at": now,
                "expires_at": expires,
            }
        ],
    )
    return token, Session(kind, customer_id, user_id, now, expires, csrf_token(vault, token))


_BY_HASH = select(web_sessions).where(web_sessions.c.session_hash == bindparam("session_hash"))


def find_session(
    uow: UnitOfWork, vault: Vault, token: str | None, *, kind: SessionKind, now: datetime
) -> Session | None:
    """The live session of this kind behind a cookie, or None. Marks it seen (at
    most once a minute, so a page view is not a write); an expired one is removed."""
    if not token or len(token) > 128:
        return None
    row = uow.connection.execute(_BY_HASH, {"session_hash": _hash(vault, token)}).first()
    if row is None or row.kind != kind.value:
        return None
    limits = LIMITS[kind]
    if now >= row.expires_at or now - row.last_seen_at >= limits.idle:
        if not uow.read_only:
            uow.connection.execute(
                delete(web_sessions).where(web_sessions.c.session_hash == row.session_hash)
            )
        return None
    if not uow.read_only and now - row.last_seen_at >= TOUCH_EVERY:
        uow.connection.execute(
            update(web_sessions)
            .where(web_sessions.c.session_hash == row.session_hash)
            .values(last_seen_at=now)
        )
    return Session(
        kind,
        row.customer_id,
        row.user_id,
        row.created_at,
        row.expires_at,
        csrf_token(vault, token),
    )


def close_session(uow: UnitOfWork, vault: Vault, token: str | None) -> bool:
    """Sign out: the session ends here, whatever the browser still holds."""
    if not token:
        return False
    done = uow.connection.execute(
        delete(web_sessions).where(web_sessions.c.session_hash == _hash(vault, token))
    )
    return bool(done.rowcount)


def close_user_sessions(uow: UnitOfWork, user_id: str) -> int:
    """End every console session of a user (password changed, role changed, disabled)."""
    done = uow.connection.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
    return int(done.rowcount or 0)


def erase_sessions(uow: UnitOfWork, customer_id: str) -> int:
    """End every portal session of a customer (erasure)."""
    return delete_customer_rows(uow, customer_id, {"sessions": web_sessions})["sessions"]


def sweep_expired(uow: UnitOfWork, now: datetime) -> int:
    """Remove sessions past their lifetime (idle ones go when next presented)."""
    done = uow.connection.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
    return int(done.rowcount or 0)
