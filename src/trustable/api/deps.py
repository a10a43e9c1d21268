"""What every route needs: the running Trustable and the caller's key."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

from fastapi import Request, Security
from fastapi.security import HTTPBasic, HTTPBearer

from trustable.access.service import ApiKey, authenticate, record_use, require
from trustable.bootstrap import Trustable
from trustable.storage.uow import UnitOfWork

log = logging.getLogger("trustable.api")


class _Described(HTTPBasic):
    """HTTP Basic as `/openapi.json` shows it (Swagger's "Authorize" sends it); the key
    itself is read by `bearer_or_basic`, which answers in Trustable's error contract."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


class _DescribedBearer(HTTPBearer):
    """Bearer as `/openapi.json` shows it; read by `bearer_or_basic` too."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


WRITE_KEY = _Described(
    scheme_name="writeKey",
    description="Any key as Basic auth's user name, password empty: what Segment's "
    "and RudderStack's SDKs send with a write key.",
)
API_KEY = _DescribedBearer(
    scheme_name="apiKey",
    description="`Authorization: Bearer <key>`: an API key, or the token a "
    "request by email answers with (for that request only).",
)
KEYED = [Security(WRITE_KEY), Security(API_KEY)]
"""`dependencies=` for a route that checks its key itself (`caller_in`)."""


def trustable(request: Request) -> Trustable:
    return cast(Trustable, request.app.state.trustable)


def bearer_or_basic(request: Request) -> str | None:
    """The API key from `Authorization: Bearer …` or Basic (username = key)."""
    from trustable.events.segment import basic_auth_user

    header = request.headers.get("authorization")
    if not header:
        return None
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return basic_auth_user(header)


def caller(
    request: Request, _basic: None = Security(WRITE_KEY), _bearer: None = Security(API_KEY)
) -> ApiKey:
    """Authenticate the request's key (401 when missing, wrong, revoked or expired)."""
    app = trustable(request)
    with app.reader() as uow:
        key = authenticate(uow, bearer_or_basic(request), now=app.clock())
    note_use(app, key)
    return key


def caller_in(uow: UnitOfWork, request: Request) -> ApiKey:
    """The same, inside a unit of work the route already holds: a hot read path
    saves a transaction and a hop to the thread pool by checking the key itself.
    `uow` must only read (a writer would hold the lock the key's use is noted under)."""
    app = trustable(request)
    key = authenticate(uow, bearer_or_basic(request), now=app.clock())
    note_use(app, key)
    return key


def note_use(app: Trustable, key: ApiKey) -> None:
    """Record that `key` was used, at most once a minute, in a small transaction of its
    own: the request's work never waits on it in its own transaction, and never fails
    because of it (a use not written now is written by the next request)."""
    now = app.clock()
    if not key.use_due(now):
        return
    try:
        with app.uow() as uow:
            record_use(uow, key.key_id, now=now)
            uow.commit()
    except Exception:  # a busy or unreachable store: the request goes on regardless
        log.warning("could not record the use of key %s", key.key_id, exc_info=True)


def needs(*scopes: str) -> Callable[[Request], ApiKey]:
    """A dependency: the caller's key, which must hold one of `scopes` (else 403)."""

    def dependency(
        request: Request, _basic: None = Security(WRITE_KEY), _bearer: None = Security(API_KEY)
    ) -> ApiKey:
        key = caller(request)
        if not any(key.allows(s) for s in scopes):
            require(key, scopes[0])
        return key

    return dependency
