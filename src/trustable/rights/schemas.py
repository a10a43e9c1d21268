"""What the requests API takes and shows. A request shows no personal value: not the
address a code went to, not a correction's value, only ids, kinds, states, dates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trustable.rights.service import Kind, RightsRequest, State


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["trait", "identifier"]
    name: str = Field(min_length=1, max_length=200, description="trait name or identifier kind")
    value: str | int | float | bool


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    jurisdiction: str | None = Field(None, description="ISO 3166, e.g. DE or US-CA")
    purposes: list[str] | None = Field(None, description="object: the purposes to stop")
    correction: CorrectionIn | None = Field(None, description="rectify: what to correct")


class RequestIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"customer_id": "cus_0123456789abcdef", "kind": "access", "jurisdiction": "DE"}
            ]
        }
    )

    customer_id: str = Field(min_length=1, max_length=32)


class EmailRequestIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "kind": "erase"}]}
    )

    email: str = Field(min_length=3, max_length=254)


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "493817"}]})

    code: str = Field(min_length=1, max_length=16)


class RefuseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reason": "We could not confirm that the request came from the customer."}
            ]
        },
    )

    reason: str = Field(min_length=1, max_length=500)


class RequestOut(BaseModel):
    request_id: str
    customer_id: str | None
    kind: Kind
    state: State
    channel: str
    jurisdiction: str | None
    received_at: datetime
    due_at: datetime
    overdue: bool
    verified_at: datetime | None
    completed_at: datetime | None
    refusal: str | None
    detail: dict[str, Any]
    token: str | None = Field(
        None, description="opens this request's status and export; shown once, when issued"
    )

    @classmethod
    def of(cls, r: RightsRequest, now: datetime, token: str | None = None) -> RequestOut:
        detail = {k: v for k, v in r.detail.items() if k != "customers"}
        return cls(
            request_id=r.request_id,
            customer_id=r.customer_id,
            kind=r.kind,
            state=r.state,
            channel=r.channel.value,
            jurisdiction=r.jurisdiction,
            received_at=r.received_at,
            due_at=r.due_at,
            overdue=r.overdue(now),
            verified_at=r.verified_at,
            completed_at=r.completed_at,
            refusal=r.refusal,
            detail=detail,
            token=token,
        )


class EmailRequestOut(BaseModel):
    """The same for every address, known or not."""

    request_id: str
    state: Literal["received"] = "received"
    message: str
