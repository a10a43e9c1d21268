"""Small helpers shared by tests: building Segment messages, reading raw stores."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, MetaData, select


def msg(kind: str, user_id: str | None = None, **body: Any) -> dict[str, Any]:
    """A Segment message as the SDKs send it (unset ids as JSON null)."""
    return {
        "type": kind,
        "userId": user_id,
        "anonymousId": body.pop("anonymousId", None),
        "messageId": body.pop("messageId", str(uuid.uuid4())),
        "timestamp": body.pop("timestamp", "2026-11-20T10:00:00+00:00"),
        **body,
    }


def raw_dump(engine: Engine) -> bytes:
    """Every value of every table of a store, as bytes: what a thief of a copy sees."""
    metadata = MetaData()
    metadata.reflect(bind=engine)
    out = bytearray()
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        out += bytes(value)
                    else:
                        out += str(value).encode()
                    out += b"\x1f"
    return bytes(out)
