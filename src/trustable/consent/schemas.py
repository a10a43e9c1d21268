"""What the consent API takes and shows. It shows no personal values: purposes,
statuses and times only."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from trustable.consent.service import ConsentMethod, ConsentStatus


class ConsentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ConsentStatus
    jurisdiction: str | None = Field(None, description="ISO 3166 code, e.g. DE or US-CA")


class ConsentByIdentifier(ConsentChange):
    """A change for a customer named by the company's own ids (in the body, never a URL)."""

    user_id: str | None = Field(None, min_length=1, max_length=256)
    anonymous_id: str | None = Field(None, min_length=1, max_length=256)
    purpose: str


class ConsentRecordOut(BaseModel):
    receipt_id: str
    customer_id: str
    purpose: str
    status: ConsentStatus
    method: ConsentMethod
    notice_version: str
    jurisdiction: str | None
    recorded_at: datetime


class PurposeConsentOut(BaseModel):
    purpose: str
    name: str
    needs_consent: bool
    status: ConsentStatus | None
    permitted: bool
    method: ConsentMethod | None
    recorded_at: datetime | None


class ConsentsOut(BaseModel):
    customer_id: str
    notice_version: str
    purposes: list[PurposeConsentOut]


class ConsentHistoryOut(BaseModel):
    customer_id: str
    records: list[ConsentRecordOut]
