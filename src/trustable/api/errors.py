"""Every error answer is JSON `{"code": …, "message": …}`.

Segment's SDKs read both keys, and retry for ever on an error body without `code`.
Messages name the place and the problem, never a submitted value, and an unexpected
failure says only that it happened (its details go to the log without request data).

When the data store cannot be reached or drops the connection, the answer is 503
`store_unavailable` with `Retry-After` (seconds), and one log line names the failure's
class: no traceback, nothing of the request. Segment's and RudderStack's SDKs keep the
batch and send it again after that wait; a batch that did land before the connection
failed is recognised by its message ids and not stored twice. Any other 503 (the store
busy with colliding work) carries `Retry-After` too.
"""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustable.core.errors import Forbidden, InvalidInput, TrustableError
from trustable.storage.failures import (
    RETRY_AFTER_SECONDS,
    StoreUnavailable,
    conflicting,
    unavailable,
)
from trustable.storage.uow import StoreBusy

log = logging.getLogger("trustable.api")


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


# The store's failures that say "not now" rather than "wrong": answered 503.
STORE_FAILURES: tuple[type[Exception], ...] = (
    sa.OperationalError,
    sa.InterfaceError,
    sa.DisconnectionError,
    sa.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def _cause(exc: BaseException) -> str:
    """The failure's class, and the driver's beneath it: what an operator needs,
    without the driver's message (which may name hosts, users or values)."""
    name = exc.__class__.__name__
    original = getattr(exc, "orig", None)
    if original is not None:
        name += f" ({original.__class__.__module__}.{original.__class__.__name__})"
    return name


def install(app: FastAPI) -> None:
    from trustable.web.pages import error_page, is_page

    def answer(request: Request, exc: TrustableError) -> Response:
        if is_page(request):
            response: Response = error_page(request, exc, exc.status)
        else:
            response = error_response(exc.status, exc.code, exc.message)
        if exc.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(TrustableError)
    async def _trustable(request: Request, exc: TrustableError) -> Response:
        if isinstance(exc, Forbidden):
            # Who tried what, by key id and route: never the key, never the query.
            log.warning("refused %s: %s by %s", request.url.path, exc.code, exc.key_id)
        if exc.status >= 500:
            log.error("refused to act: %s (%s)", exc.code, exc.__class__.__name__)
        return answer(request, exc)

    async def _store(request: Request, exc: Exception) -> Response:
        if conflicting(exc):  # a deadlock the route did not retry
            log.warning("store busy: %s", _cause(exc))
            return answer(request, StoreBusy("the store is busy; try again shortly"))
        if unavailable(exc):
            log.error("store unavailable: %s", _cause(exc))
            return answer(
                request,
                StoreUnavailable(
                    "the data store cannot be reached just now; "
                    f"try again in {RETRY_AFTER_SECONDS} seconds"
                ),
            )
        return await _unexpected(request, exc)

    for failure in STORE_FAILURES:
        app.add_exception_handler(failure, _store)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors()[:10]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        if is_page(request):
            return error_page(request, InvalidInput("; ".join(problems)), 400)
        return error_response(400, "invalid_request", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if is_page(request):
            return error_page(request, TrustableError(str(exc.detail), code=code), exc.status_code)
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected failure: %s", exc.__class__.__name__)
        if is_page(request):
            return error_page(request, None, 500)
        return error_response(500, "internal_error", "Trustable failed to handle this request")
