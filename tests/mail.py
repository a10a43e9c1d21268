"""A real SMTP server on loopback (aiosmtpd) that keeps what it is sent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from email import message_from_bytes
from typing import Any

from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import Clock, system_clock
from trustable.core.mail import MailSettings
from trustable.core.settings import Settings


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


def mail_to(port: int) -> MailSettings:
    """The shop's mail, through the SMTP server on this loopback port."""
    return MailSettings(sender="privacy@shop.example", smtp_host="127.0.0.1", smtp_port=port)


@contextmanager
def mailing_shop(settings: Settings, port: int, clock: Clock = system_clock) -> Iterator[Trustable]:
    """Trustable mailing through the SMTP server on `port` (closed at the end)."""
    app = bootstrap(replace(settings, mail=mail_to(port)), clock=clock)
    try:
        yield app
    finally:
        app.close()
