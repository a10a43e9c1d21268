"""What the segment routes answer.

A customer's segments are read for one purpose: the names and the words customers
are shown, never the events behind them (those are in the customer's own export).
The list of segments shows counts only, small ones as "<10".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class MembershipOut(BaseModel):
    name: str
    description: str
    purposes: list[str]
    since: datetime


class CustomerSegmentsOut(BaseModel):
    customer_id: str
    purpose: str
    segments: list[MembershipOut]


class SegmentOut(BaseModel):
    name: str
    description: str
    purposes: list[str]
    rule: dict[str, Any]
    members: str  # a count, or "<10"


class SegmentsOut(BaseModel):
    segments: list[SegmentOut]
