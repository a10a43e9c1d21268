"""What every route needs: the running Trustable and the caller's key."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from fastapi import Request

from trustable.access.service import ApiKey, authenticate, require
from trustable.bootstrap import Trustable
from trustable.storage.uow import UnitOfWork


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


def caller(request: Request) -> ApiKey:
    """Authenticate the request's key (401 when missing or wrong)."""
    app = trustable(request)
    with app.reader() as uow:
        return caller_in(uow, request)


def caller_in(uow: UnitOfWork, request: Request) -> ApiKey:
    """The same, inside a unit of work the route already holds: a hot read path
    saves a transaction and a hop to the thread pool by checking the key itself."""
    return authenticate(uow, bearer_or_basic(request))


def needs(*scopes: str) -> Callable[[Request], ApiKey]:
    """A dependency: the caller's key, which must hold one of `scopes` (else 403)."""

    def dependency(request: Request) -> ApiKey:
        key = caller(request)
        if not any(key.allows(s) for s in scopes):
            require(key, scopes[0])
        return key

    return dependency
