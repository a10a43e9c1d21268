"""Every answer is never sniffed and may run nothing, unless its route allows more."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer


def test_answers_without_a_policy_of_their_own_allow_nothing_and_are_never_sniffed(
    live_server: LiveServer, admin_key: str
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        answers = {
            "health": client.get("/health"),
            "openapi": client.get("/openapi.json"),
            "gpc": client.get("/.well-known/gpc.json"),
            "unauthorised": client.get("/v1/requests"),
            "not found": client.get("/v1/nothing-here"),
            "refused": client.post("/v1/batch", content=b"not json"),
            "admin json": client.get(
                "/v1/requests", headers={"Authorization": f"Bearer {admin_key}"}
            ),
            "static": client.get("/static/trustable.css"),
            "docs asset": client.get("/docs/assets/swagger-ui.css"),
        }
    for name, answer in answers.items():
        assert answer.headers.get("x-content-type-options") == "nosniff", name
        assert answer.headers["content-security-policy"].startswith("default-src 'none'"), name
    assert answers["health"].headers["content-security-policy"] == (
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def test_pages_keep_the_policy_they_set(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.url}/portal")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers.get_list("content-security-policy") == [
        page.headers["content-security-policy"]
    ]
