"""Cross-origin access for what a shop's pages call from the browser, and nothing else.

Segment's and RudderStack's browser SDKs, and `/consent.js`, run on the shop's own
origin and send to Trustable's: the browser lets them only when Trustable answers
with CORS headers. These routes authenticate by the write key the request carries,
never by a cookie, so any origin may call them (`*`, no credentials): a page of
another site learns nothing it could not learn by sending the same request itself.
Every other route (the console, the portal, the API with secret keys) stays
same-origin.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from trustable.events.segment import TYPES

# analytics.js (`@segment/analytics-next`) posts each message to `/v1/<first letter
# of its type>` and batches to `/v1/b`; the other SDKs use the full names.
BROWSER_PATHS = frozenset(
    {"/v1/batch", "/v1/b", "/v1/consent/choices"}
    | {f"/v1/{kind}" for kind in TYPES}
    | {f"/v1/{kind[0]}" for kind in TYPES}
)


class BrowserCORS:
    """Starlette's CORS middleware, for `BROWSER_PATHS` only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["POST"],
            # The SDKs add headers of their own (RudderStack's `AnonymousId`); none
            # carries a credential the browser adds by itself.
            allow_headers=["*"],
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in BROWSER_PATHS:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
