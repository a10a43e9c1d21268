"""Every error answer is JSON `{"code": …, "message": …}`.

Segment's SDKs read both keys, and retry for ever on an error body without `code`.
Messages name the place and the problem, never a submitted value, and an unexpected
failure says only that it happened (its details go to the log without request data).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustable.core.errors import Forbidden, TrustableError

log = logging.getLogger("trustable.api")


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(TrustableError)
    async def _trustable(request: Request, exc: TrustableError) -> JSONResponse:
        if isinstance(exc, Forbidden):
            # Who tried what, by key id and route: never the key, never the query.
            log.warning("refused %s: %s by %s", request.url.path, exc.code, exc.key_id)
        if exc.status >= 500:
            log.error("refused to act: %s (%s)", exc.code, exc.__class__.__name__)
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:10]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        return error_response(400, "invalid_request", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected failure: %s", exc.__class__.__name__)
        return error_response(500, "internal_error", "Trustable failed to handle this request")
