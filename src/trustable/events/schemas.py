"""What the collection endpoints answer."""

from __future__ import annotations

from pydantic import BaseModel


class CollectResponse(BaseModel):
    """Segment's SDKs look for `success`; the counts tell what minimization did."""

    success: bool = True
    received: int
    stored: int
    duplicates: int
    fields_kept: int
    fields_dropped: int
