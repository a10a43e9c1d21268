"""What the portal's API shows: a sign-in link, and nothing of the customer's."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LinkIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"customer_id": "cus_0123456789abcdef", "minutes": 10}]},
    )

    customer_id: str = Field(min_length=1, max_length=32)
    minutes: int = Field(default=10, ge=1, le=60, description="how long the link works")


class LinkOut(BaseModel):
    url: str  # opens the portal signed in as the customer, once
    expires_at: datetime
