"""Small helpers shared by tests: building Segment messages, reading raw stores."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, MetaData, select

from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentMethod, ConsentStatus, record_for_identifiers
from trustable.core.settings import Settings
from trustable.events.segment import parse_batch
from trustable.events.service import ingest


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


def send(app: Trustable, *messages: dict[str, Any], trusted: bool = True) -> None:
    """Collect messages through `ingest`, as the batch endpoint does, and commit.

    By default as the shop's backend sends them (a trusted source); `trusted=False`
    as a web page's public key does."""
    batch = parse_batch({"batch": list(messages)}, single_type=None, received_at=app.clock())
    with app.uow() as uow:
        ingest(
            uow,
            app.vault,
            app.policy,
            batch.messages,
            now=app.clock(),
            actor="key_test",
            trusted=trusted,
        )
        uow.commit()


def grant(
    app: Trustable,
    user: str,
    *purposes: str,
    status: ConsentStatus = ConsentStatus.granted,
    jurisdiction: str | None = None,
) -> None:
    """Record a choice for the customer holding user id `user` (made if new)."""
    with app.uow() as uow:
        for purpose in purposes:
            record_for_identifiers(
                uow,
                app.vault,
                app.policy,
                idents=[("user_id", user)],
                purpose=purpose,
                status=status,
                method=ConsentMethod.portal,
                now=app.clock(),
                actor="test",
                jurisdiction=jurisdiction,
            )
        uow.commit()


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment `trustable` commands need to reach these stores."""
    return {
        "TRUSTABLE_HOME": str(settings.home),
        "TRUSTABLE_DATABASE_URL": settings.database_url,
        "TRUSTABLE_KEYSTORE_URL": settings.keystore_url,
        "TRUSTABLE_MASTER_KEY": settings.master_key or "",
        "TRUSTABLE_POLICY": str(settings.policy_path),
    }
