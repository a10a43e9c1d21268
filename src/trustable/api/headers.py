"""Headers every answer carries unless its route set its own.

Pages set a Content-Security-Policy of their own (`web.pages`), and so do the
export (`rights.export`) and `/docs`. Everything else, JSON answers, downloads and
errors included, gets `X-Content-Type-Options: nosniff` (a browser never runs a
download or a JSON body as a script or a page because it looks like one) and a CSP
that allows nothing (a JSON answer opened in a browser tab, or a file a route
forgot to guard, can load, run and frame nothing). The one place that adds them,
so a route added later cannot forget.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOTHING_ALLOWED = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


class DefaultHeaders:
    """ASGI middleware: `nosniff` and a CSP that allows nothing, where a route set none.

    Pure ASGI rather than Starlette's `BaseHTTPMiddleware`, so streamed answers (the
    exports) stream on untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Content-Security-Policy", NOTHING_ALLOWED)
            await send(message)

        await self.app(scope, receive, sending)
