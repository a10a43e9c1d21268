"""What the collection endpoints take and answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CollectResponse(BaseModel):
    """Segment's SDKs look for `success`; the counts tell what minimization did."""

    success: bool = True
    received: int
    stored: int
    duplicates: int
    fields_kept: int
    fields_dropped: int
    # Joins of two histories this key may not ask for (docs/identity.md): not an
    # error, so an SDK does not retry them; each message was stored all the same.
    joins_refused: int = 0


# -- what the collection endpoints take, for the API's description -------------------------
#
# The endpoints parse their bodies themselves (events/segment.py: size caps, gzip,
# Segment's quirks, one pass without a model), so these models only describe the body
# for `/openapi.json` and its "Try it out". Every field the SDKs send is allowed; what
# is kept is the tracking plan's business, not the schema's.


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    userId: str | None = Field(None, description="Your id for the customer, once known.")
    anonymousId: str | None = Field(
        None, description="The browser's or device's id before sign-in (one of the two ids)."
    )
    messageId: str | None = Field(
        None, description="Unique per message: a retried message is stored once."
    )
    timestamp: str | None = Field(None, description="When it happened (ISO 8601).")
    context: dict[str, Any] | None = Field(
        None,
        description="Segment's context; `context.traits` count as traits, "
        "`context.consent.categoryPreferences` as the banner's choices.",
    )


class TrackIn(_Message):
    """An action the customer took."""

    event: str = Field(description="The action's name, as in the tracking plan.")
    properties: dict[str, Any] | None = None


class IdentifyIn(_Message):
    """Who the customer is and what they told the shop."""

    traits: dict[str, Any] | None = None


class PageIn(_Message):
    """A page view."""

    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] | None = None


class ScreenIn(_Message):
    """A screen view in an app."""

    name: str | None = None
    properties: dict[str, Any] | None = None


class GroupIn(_Message):
    """The customer belongs to a company or team."""

    groupId: str
    traits: dict[str, Any] | None = None


class AliasIn(_Message):
    """Two ids are the same person (only a trusted source may join known customers)."""

    previousId: str
    userId: str | None = None


class BatchIn(BaseModel):
    """What the SDKs send: many messages, each with its own `type`; all kept or none."""

    model_config = ConfigDict(extra="allow")

    batch: list[dict[str, Any]] = Field(description="Messages, each with `type`.")
    writeKey: str | None = Field(
        None, description="The write key, when it is not sent as Basic auth's user name."
    )
    context: dict[str, Any] | None = None


_WHEN = "2026-12-04T10:15:00Z"
COLLECTION_EXAMPLES: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "track": (
        TrackIn,
        {
            "userId": "u-1042",
            "messageId": "doc-track-1",
            "timestamp": _WHEN,
            "event": "Order Completed",
            "properties": {"order_id": "o-77", "total": 38.25, "currency": "EUR"},
        },
    ),
    "identify": (
        IdentifyIn,
        {
            "userId": "u-1042",
            "messageId": "doc-identify-1",
            "timestamp": _WHEN,
            "traits": {"email": "ada@example.com", "plan": "pro"},
        },
    ),
    "page": (
        PageIn,
        {
            "anonymousId": "a-5d1e",
            "messageId": "doc-page-1",
            "timestamp": _WHEN,
            "name": "Pricing",
            "properties": {"url": "https://shop.example/pricing", "path": "/pricing"},
            "context": {"consent": {"categoryPreferences": {"Analytics": True}}},
        },
    ),
    "screen": (
        ScreenIn,
        {
            "anonymousId": "a-5d1e",
            "messageId": "doc-screen-1",
            "timestamp": _WHEN,
            "name": "Basket",
        },
    ),
    "group": (
        GroupIn,
        {
            "userId": "u-1042",
            "messageId": "doc-group-1",
            "timestamp": _WHEN,
            "groupId": "g-acme",
            "traits": {"plan": "team"},
        },
    ),
    "alias": (
        AliasIn,
        {
            "userId": "u-1042",
            "previousId": "a-5d1e",
            "messageId": "doc-alias-1",
            "timestamp": _WHEN,
        },
    ),
    "batch": (
        BatchIn,
        {
            "batch": [
                {
                    "type": "track",
                    "userId": "u-1042",
                    "messageId": "doc-batch-1",
                    "timestamp": _WHEN,
                    "event": "Product Viewed",
                    "properties": {"product_id": "p-9", "price": 12.5},
                },
                {
                    "type": "page",
                    "userId": "u-1042",
                    "messageId": "doc-batch-2",
                    "timestamp": _WHEN,
                    "name": "Home",
                },
            ]
        },
    ),
}


def collection_body(kind: str) -> dict[str, Any]:
    """`openapi_extra` for a collection endpoint: its body, and how it may authenticate
    (Basic with the write key as user name, or `writeKey` in the body)."""
    model, example = COLLECTION_EXAMPLES[kind]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": model.model_json_schema(ref_template="#/components/schemas/{model}"),
                    "example": example,
                }
            },
        },
        "security": [{"writeKey": []}, {}],
    }
