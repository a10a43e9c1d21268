"""What the ledger API shows: hashes, signatures and pseudonymous entries only.

Binary values are standard base64 (RFC 4648 §4, with padding).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from trustable.ledger.service import HEAD_ORIGIN, PendingEntry, SignedHead, StoredEntry


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


class HeadOut(BaseModel):
    origin: str = Field(HEAD_ORIGIN, description="first line of the signed message")
    size: int
    root: str = Field(description="MTH of the first `size` entries, base64")
    signed_at: datetime
    timestamp: str = Field(description="signed_at exactly as signed (fourth line)")
    signature: str = Field(description="Ed25519 over the four-line message, base64")

    @classmethod
    def of(cls, head: SignedHead) -> HeadOut:
        from trustable.ledger.service import stamp

        return cls(
            size=head.size,
            root=b64(head.root),
            signed_at=head.signed_at,
            timestamp=stamp(head.signed_at),
            signature=b64(head.signature),
        )


class PublicKeyOut(BaseModel):
    algorithm: str = "Ed25519"
    public_key: str = Field(description="the raw 32-byte key, base64")


class EntryOut(BaseModel):
    index: int
    kind: str
    body: str = Field(description="the canonical entry bytes, base64: hash these")
    leaf_hash: str
    content: dict[str, Any] = Field(description="the body, parsed, for reading")

    @classmethod
    def of(cls, entry: StoredEntry) -> EntryOut:
        return cls(
            index=entry.index,
            kind=entry.kind,
            body=b64(entry.body),
            leaf_hash=b64(entry.leaf_hash),
            content=entry.content(),
        )


class InclusionOut(BaseModel):
    index: int
    size: int
    leaf_hash: str
    path: list[str]


class ConsistencyOut(BaseModel):
    first: int
    second: int
    proof: list[str]


class PendingOut(BaseModel):
    kind: str
    recorded_at: datetime
    content: dict[str, Any] = Field(
        description="the entry without its index: being logged, it has no proof yet"
    )

    @classmethod
    def of(cls, entry: PendingEntry) -> PendingOut:
        return cls(kind=entry.kind, recorded_at=entry.recorded_at, content=entry.content())


class CustomerEntriesOut(BaseModel):
    customer_id: str
    entries: list[EntryOut]
    pending: list[PendingOut] = Field(
        default_factory=list,
        description="records being logged: each gets its index (and its proof) within "
        "the ledger's maximum merge delay",
    )
