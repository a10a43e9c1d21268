"""What the destinations API shows: states and counts, never event content."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class DestinationOut(BaseModel):
    name: str
    url: str
    purposes: list[str]
    pending: int
    delivered: int
    skipped: int
    dead: int


class DeadLetterOut(BaseModel):
    id: int
    customer_id: str
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class RetriedOut(BaseModel):
    requeued: int
