"""A real SMTP server on loopback (aiosmtpd) that keeps what it is sent."""

from __future__ import annotations

import re
from email import message_from_bytes
from typing import Any


class Inbox:
    """aiosmtpd handler: keeps every delivered message."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def codes_for(self, address: str) -> list[str]:
        return [
            re.search(r"Your code is (\d{6})", m.get_payload()).group(1)  # type: ignore[union-attr]
            for m in self.messages
            if m["To"] == address
        ]
