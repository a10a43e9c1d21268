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
    # Joins of two histories this key may not ask for (docs/identity.md): not an
    # error, so an SDK does not retry them; each message was stored all the same.
    joins_refused: int = 0
