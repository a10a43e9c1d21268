"""Every error answer is JSON `{"code": …, "message": …}`.

Segment's SDKs read both keys, and retry for ever on an error body without `code`.
Messages name the place and the problem, never a submitted value, and an unexpected
failure says only that it happened (its details go to the log without request data).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustable.core.errors import Forbidden, InvalidInput, TrustableError

log = logging.getLogger("trustable.api")


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def install(app: FastAPI) -> None:
    from trustable.web.pages import error_page, is_page

    @app.exception_handler(TrustableError)
    async def _trustable(request: Request, exc: TrustableError) -> Response:
        if isinstance(exc, Forbidden):
            # Who tried what, by key id and route: never the key, never the query.
            log.warning("refused %s: %s by %s", request.url.path, exc.code, exc.key_id)
        if exc.status >= 500:
            log.error("refused to act: %s (%s)", exc.code, exc.__class__.__name__)
        if is_page(request):
            return error_page(request, exc, exc.status)
        return error_response(exc.status, exc.code, exc.message)

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
