"""The API's description at /docs is served whole by Trustable, with nothing from a CDN."""

from __future__ import annotations

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
