"""The API's description renders in a browser that can reach nothing but Trustable."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from trustable.bootstrap import Trustable
from trustable.identity.service import find_customer


def test_swagger_ui_renders_offline(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Trustable")
    expect(page.get_by_text("/v1/batch").first).to_be_visible()


def test_authorize_and_try_it_out_send_a_track_that_is_stored(
    page: Page, app: Trustable, live_server: LiveServer, server_key: str
) -> None:
    """What a newcomer does first: Authorize with the write key, open /v1/track, send
    its example as it stands, and see 200."""
    page.goto(f"{live_server.url}/docs")
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input[type=text]").first.fill(server_key)  # writeKey's user name
    dialog.locator("button.modal-btn.auth.authorize").first.click()
    dialog.locator("button.btn-done").first.click()
    operation = page.locator("#operations-collection-collect_track_v1_track_post")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", "u-1042")
    assert customer is not None  # the example's customer, stored
