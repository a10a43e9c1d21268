"""What purpose-bound reads take and show.

A profile shows decrypted personal values, deliberately: exactly the traits and
event fields the named purpose may use for this customer now, and nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trustable.access.reads import MAX_EVENTS, Profile


class IdentifierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["user_id", "anonymous_id", "email", "phone"]
    value: str = Field(min_length=1, max_length=256)


class LookupIn(BaseModel):
    """Find a customer by an identifier, sent in the body so it never lands in a URL."""

    model_config = ConfigDict(extra="forbid")

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
