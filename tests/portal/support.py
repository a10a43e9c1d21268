"""Signing a customer in to the portal over real HTTP, as a browser would."""

from __future__ import annotations

import re

import httpx

from tests.conftest import LiveServer, make_key
from trustable.bootstrap import Trustable

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def link(app: Trustable, server: LiveServer, customer_id: str) -> str:
    """A one-time sign-in link, asked for the way a company's backend does."""
    key = make_key(app, "portal", name="shop backend")
    answer = httpx.post(
        f"{server.url}/v1/portal/links",
        json={"customer_id": customer_id},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 201, answer.text
    url = str(answer.json()["url"])
    assert url.startswith(f"{server.url}/portal/enter?token=pl_")
    return url


def signed_in(app: Trustable, server: LiveServer, customer_id: str) -> httpx.Client:
    """A browser-like client (cookies kept) signed in as this customer."""
    browser = httpx.Client(base_url=server.url)
    landed = browser.get(link(app, server, customer_id), follow_redirects=True)
    assert landed.status_code == 200 and "What we hold about you" in landed.text
    return browser


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)
