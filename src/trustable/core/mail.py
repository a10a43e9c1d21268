"""Sending mail: one-time codes now, breach notices later.

With an SMTP server configured (`TRUSTABLE_SMTP_HOST`, …) mail goes there; without
one it is written as `.eml` files to a pickup folder (`TRUSTABLE_MAIL_DIR`, by default
`<home>/mail`), so a demo or a developer machine loses nothing and needs no server.

Mail is handed to a background thread: an endpoint that sends a code only to known
addresses must answer in the same time whether it sent one or not.

A message goes to exactly one address, given as a bare `local@domain`. Anything else
(a CR or LF that would start a header of its own, a comma or a display name that
would add recipients) is never sent, and never raised to the caller either: an
address stored by someone else must not turn an endpoint's answer into an error
that tells it apart. The sender hears of it as a failed delivery, as of any other.

The pickup folder holds copies of what was sent, addresses included: erasure removes
every file addressed to the erased customer (`Mailer.remove_mail_to`).
"""

from __future__ import annotations

import email.policy
import logging
import queue
import re
import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path

from trustable.core.files import narrow, private_folder, write_private

log = logging.getLogger("trustable.mail")

# Told, from the mail thread, whether a message was handed over (True) or given up on
# after every attempt (False): how a sender that must know (a breach notice) finds out.
Outcome = Callable[[bool], None]


# A bare address, strictly: a dot-atom local part (RFC 5322 atext) and a domain of
# anything but spaces, controls and the characters that delimit addresses and
# headers. Quoted local parts and address literals are not mailed: nobody on file
# needs them, and they are where mail parsers go wrong.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[^@\s<>()\[\],;:\"\\]+"
)


def single_address(to: str) -> Address | None:
    """`to` as one bare address (`local@domain`), or None when it is anything else:
    control characters (CR/LF), several addresses, a display name, no domain."""
    if not isinstance(to, str) or not _ADDRESS.fullmatch(to):
        return None
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in to):
        return None
    try:
        parsed = Address(addr_spec=to)
    except (ValueError, MessageError):  # email's defects are ValueErrors or MessageErrors
        return None
    if parsed.addr_spec != to:
        return None
    return parsed


def addressed_to(raw: bytes) -> set[str]:
    """Every address a message's To, Cc and Bcc headers name, in lower case."""
    headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    found: list[str] = []
    for name in ("To", "Cc", "Bcc"):
        found.extend(str(v) for v in headers.get_all(name, []))
    return {addr.strip().lower() for _, addr in getaddresses(found) if addr.strip()}


@dataclass(frozen=True)
class MailSettings:
    sender: str = "privacy@trustable.invalid"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0
    pickup_dir: Path | None = None


class Mailer:
    """Queues messages and sends them from one thread, in order, retrying a few times."""

    ATTEMPTS = 3

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        # A message and who to tell how it went; no message: an address refused at
        # `send`, reported from the thread like any failed delivery; None: stop.
        self._queue: queue.Queue[tuple[EmailMessage | None, Outcome | None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0

    def send(self, to: str, subject: str, body: str, on_result: Outcome | None = None) -> None:
        """Queue a message to `to`. Never raises for the address: one that is not a
        single bare address is not sent, and `on_result` hears False."""
        message: EmailMessage | None = None
        address = single_address(to)
        if address is not None:
            message = EmailMessage()
            message["From"] = self.settings.sender
            message["To"] = address
            message["Subject"] = subject
            message["Message-ID"] = f"<{uuid.uuid4()}@trustable>"
            message.set_content(body)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="trustable-mail", daemon=True
                )
                self._thread.start()
        self._queue.put((message, on_result))

    def remove_mail_to(self, addresses: Iterable[str]) -> int | None:
        """Delete every message in the pickup folder addressed to any of `addresses`
        (To, Cc or Bcc; compared without case): an erased customer's address must not
        stay behind in a copy of their mail. How many files went; None without a
        pickup folder (mail goes to an SMTP server, and Trustable keeps no copy).

        Mail still queued is not on disk yet: `flush` first, outside any unit of
        work (a sender's outcome handler may need to write)."""
        folder = self.settings.pickup_dir
        if folder is None:
            return None
        wanted = {a.strip().lower() for a in addresses if a.strip()}
        if not wanted or not folder.is_dir():
            return 0
        removed = 0
        for path in sorted(folder.glob("*.eml")):
            try:
                if addressed_to(path.read_bytes()) & wanted:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # removed meanwhile: gone either way
        return removed

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything queued so far was handed over (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=self.settings.timeout * self.ATTEMPTS + 5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                message, on_result = item
                delivered = self._deliver(message) if message is not None else self._refused()
                if on_result is not None:
                    try:
                        on_result(delivered)
                    except Exception as exc:  # the thread must outlive a sender's bug
                        log.error("mail outcome not recorded: %s", exc.__class__.__name__)
            finally:
                self._queue.task_done()

    def _refused(self) -> bool:
        # The address is personal data: the log says what was wrong with it, not it.
        log.warning("mail not sent: the address is not a single plain address")
        self.failed += 1
        return False

    def _deliver(self, message: EmailMessage) -> bool:
        for attempt in range(1, self.ATTEMPTS + 1):
            try:
                if self.settings.smtp_host:
                    self._smtp(message)
                else:
                    self._pickup(message)
                self.sent += 1
                return True
            except (OSError, smtplib.SMTPException) as exc:
                # The address is personal data: the log names the failure only.
                log.warning("mail not sent (attempt %d): %s", attempt, exc.__class__.__name__)
                time.sleep(0.2 * attempt)
        self.failed += 1
        return False

    def _smtp(self, message: EmailMessage) -> None:
        s = self.settings
        assert s.smtp_host is not None
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout) as smtp:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user and s.smtp_password:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(message)

    def _pickup(self, message: EmailMessage) -> None:
        folder = self.settings.pickup_dir
        if folder is None:
            raise OSError("no SMTP server and no pickup folder configured")
        private_folder(folder)
        narrow(folder)
        path = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        write_private(path, bytes(message))  # owner-only from its first moment
