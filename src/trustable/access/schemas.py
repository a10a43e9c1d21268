"""What purpose-bound reads and the keys API take and show.

A profile shows decrypted personal values, deliberately: exactly the traits and
event fields the named purpose may use for this customer now, and nothing else. A
key is shown by id, name, scopes and dates: never its secret nor the secret's hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trustable.access.reads import MAX_EVENTS, Profile
from trustable.access.service import KeyInfo, KeyState


class IdentifierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["user_id", "anonymous_id", "email", "phone"]
    value: str = Field(min_length=1, max_length=256)


class LookupIn(BaseModel):
    """Find a customer by an identifier, sent in the body so it never lands in a URL."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "purpose": "essential.service",
                    "identifier": {"type": "user_id", "value": "u-1042"},
                    "limit": 50,
                }
            ]
        },
    )

    purpose: str
    identifier: IdentifierIn
    limit: int = Field(MAX_EVENTS, ge=1, le=MAX_EVENTS)


class WithheldOut(BaseModel):
    category: str
    reason: str
    count: int


class ProfileEventOut(BaseModel):
    type: str
    occurred_at: datetime
    fields: dict[str, Any]


class ProfileOut(BaseModel):
    customer_id: str
    purpose: str
    traits: dict[str, Any]
    events: list[ProfileEventOut]
    withheld: list[WithheldOut] = Field(description="what was held back and why, no values")

    @classmethod
    def of(cls, profile: Profile) -> ProfileOut:
        return cls(
            customer_id=profile.customer_id,
            purpose=profile.purpose,
            traits=profile.traits,
            events=[
                ProfileEventOut(type=e.type, occurred_at=e.occurred_at, fields=e.fields)
                for e in profile.events
            ],
            withheld=[
                WithheldOut(category=w.category, reason=w.reason.value, count=w.count)
                for w in profile.withheld
            ],
        )


class KeyOut(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = Field(description="recorded at most once a minute")
    expires_at: datetime | None
    revoked_at: datetime | None
    state: KeyState = Field(description="whether the key authenticates now (`live`), or why not")

    @classmethod
    def of(cls, key: KeyInfo, now: datetime) -> KeyOut:
        return cls(
            key_id=key.key_id,
            name=key.name,
            scopes=list(key.scopes),
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            state=key.state(now),
        )
