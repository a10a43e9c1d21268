"""The API's interactive description (`/docs`), served whole from Trustable itself.

FastAPI's own `/docs` loads Swagger UI from a CDN; a machine that reaches only its own
network (and every browser test, which resolves only loopback) would get a blank
page. Swagger UI's files come instead from the `swagger-ui-bundle-v2` package,
mounted under `/docs/assets`. ReDoc, which has no such package, is not offered.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def install(app: FastAPI) -> None:
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
        page.headers["Content-Security-Policy"] = policy_for(bytes(page.body))
        page.headers["X-Content-Type-Options"] = "nosniff"
        return page


def policy_for(page: bytes) -> str:
    """The page's CSP: its own files, and its one inline script (which starts Swagger
    UI) by hash, so no other inline script runs."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
