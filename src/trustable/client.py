"""A small Python client for Trustable's API, for the company's own services.

    from trustable.client import TrustableClient
    with TrustableClient("http://127.0.0.1:8000", api_key) as trustable:
        profile = trustable.profile(customer_id, purpose="personalize.content.profiled")

Every read names its purpose; the key must hold `read:<purpose>`. Errors arrive as
`TrustableAPIError` with the server's `code` and `message`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx


class TrustableAPIError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class TrustableClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    def __enter__(self) -> TrustableClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _json(self, response: httpx.Response) -> Any:
        if response.is_success:
            return response.json()
        try:
            body = response.json()
            code, message = str(body["code"]), str(body["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "http_error", response.reason_phrase
        raise TrustableAPIError(response.status_code, code, message)

    # -- purpose-bound reads ---------------------------------------------------------
    def profile(self, customer_id: str, *, purpose: str, limit: int = 1000) -> dict[str, Any]:
        """What `purpose` may use of this customer now, with what was withheld and why."""
        response = self._http.get(
            f"/v1/customers/{customer_id}/profile", params={"purpose": purpose, "limit": limit}
        )
        result: dict[str, Any] = self._json(response)
        return result

    def lookup(
        self, *, purpose: str, identifier_type: str, value: str, limit: int = 1000
    ) -> dict[str, Any]:
        """The same read for the customer holding an identifier (sent in the body)."""
        response = self._http.post(
            "/v1/profiles/lookup",
            json={
                "purpose": purpose,
                "identifier": {"type": identifier_type, "value": value},
                "limit": limit,
            },
        )
        result: dict[str, Any] = self._json(response)
        return result

    # -- personalization ---------------------------------------------------------------
    def recommendations(self, customer_id: str, *, n: int = 10) -> dict[str, Any]:
        """Recommendations with their reasons (`personal` says whether they are the
        customer's own; if not, `note` says why and what personalization would give)."""
        response = self._http.get(f"/v1/customers/{customer_id}/recommendations", params={"n": n})
        result: dict[str, Any] = self._json(response)
        return result

    def guard(self, customer_id: str, action: dict[str, Any]) -> dict[str, Any]:
        """Warnings that protect the customer before an action (say, buying a product)."""
        response = self._http.post(f"/v1/customers/{customer_id}/guard", json=action)
        result: dict[str, Any] = self._json(response)
        return result

    # -- consent -----------------------------------------------------------------------
    def consents(self, customer_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self._http.get(f"/v1/customers/{customer_id}/consents"))
        return result

    def set_consent(
        self, customer_id: str, purpose: str, status: str, *, jurisdiction: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status}
        if jurisdiction is not None:
            body["jurisdiction"] = jurisdiction
        result: dict[str, Any] = self._json(
            self._http.put(f"/v1/customers/{customer_id}/consents/{purpose}", json=body)
        )
        return result

    # -- ledger ------------------------------------------------------------------------
    def ledger_head(self) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self._http.get("/v1/ledger/head"))
        return result
