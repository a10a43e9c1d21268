"""The API's description renders in a browser that can reach nothing but Trustable."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import LiveServer


def test_swagger_ui_renders_offline(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Trustable")
    expect(page.get_by_text("/v1/batch").first).to_be_visible()
