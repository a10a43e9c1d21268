"""What the consent API takes and shows. It shows no personal values: purposes,
statuses and times only (a receipt names the customer by the opaque `cus_…` id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from trustable.consent.service import ConsentMethod, ConsentStatus


class ConsentChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "granted", "jurisdiction": "DE"}]},
    )

    status: ConsentStatus
    jurisdiction: str | None = Field(None, description="ISO 3166 code, e.g. DE or US-CA")


class ConsentByIdentifier(ConsentChange):
    """A change for a customer named by the company's own ids (in the body, never a URL)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"user_id": "u-1042", "purpose": "analytics.reporting", "status": "granted"}
            ]
        }
    )

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


class ReceiptSignatureOut(BaseModel):
    alg: str = Field(description="always Ed25519")
    value: str = Field(description="Ed25519 over the receipt's canonical bytes, base64")
    publicKey: str = Field(
        description="the signing key, raw, base64: trust the one from /v1/ledger/public-key"
    )


class SignedReceiptOut(BaseModel):
    """A Kantara v1.1 consent receipt and its signature (fields: docs/consent.md).

    The receipt stays a plain mapping, passed through as built: a typed model could
    drop or reshape a field, and then the signature would no longer verify.
    """

    receipt: dict[str, Any]
    signature: ReceiptSignatureOut


class ConsentChangeOut(ConsentRecordOut):
    """The record of a change and, at once, its signed receipt."""

    receipt: SignedReceiptOut


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


class BannerChoices(BaseModel):
    """A visitor's answer to the banner, for their anonymous id (what `/consent.js`
    sends with the page's public write key)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "anonymous_id": "6f1c2b0e-52a4-4b5e-9d43-0f3b8c1e7a21",
                    "choices": {
                        "analytics.reporting": True,
                        "marketing.advertising.third_party.targeted": False,
                        "marketing.communications.email": False,
                        "personalize.content.profiled": True,
                    },
                    "gpc": False,
                }
            ]
        },
    )

    # Segment's spelling (`anonymousId`) is taken too: the page's SDKs speak it.
    anonymous_id: str = Field(
        min_length=1,
        max_length=256,
        validation_alias=AliasChoices("anonymous_id", "anonymousId"),
    )
    choices: dict[str, bool] = Field(
        min_length=1,
        description="purposes the banner asks for -> allowed (true) or not; the banner sends "
        "every one, a purpose left out stays as it was",
    )
    gpc: bool = Field(False, description="the browser sends Global Privacy Control")
    jurisdiction: str | None = Field(None, description="ISO 3166 code, e.g. DE or US-CA")
    user_id: str | None = Field(
        None,
        validation_alias=AliasChoices("user_id", "userId"),
        description="always refused: a public key never speaks for a known customer",
    )


class BannerChoicesOut(BaseModel):
    """Where each purpose now stands, each with its signed receipt."""

    notice_version: str
    changes: list[ConsentChangeOut]
