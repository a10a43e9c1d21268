"""The API's description at /docs is served whole by Trustable, with nothing from a CDN."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

from tests.conftest import LiveServer


def test_the_docs_page_and_its_assets_come_from_trustable(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "/docs/assets/swagger-ui-bundle.js" in page.text
        assert "cdn." not in page.text and "https://" not in page.text.split("<body>")[0]
        script = client.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert client.get("/docs/assets/swagger-ui.css").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "Trustable"
        assert client.get("/redoc").status_code == 404  # it would need a CDN: not offered


def test_the_docs_page_runs_only_its_own_scripts(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.url}/docs")
    assert page.headers["x-content-type-options"] == "nosniff"
    csp = page.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; script-src 'self' 'sha256-")
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    (script,) = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
