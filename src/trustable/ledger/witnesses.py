"""The log asks its witnesses to cosign each new checkpoint (C2SP tlog-witness).

`TRUSTABLE_WITNESSES` names them, each by verifier key and URL. After the sequencer
signs a head, `ask` sends every witness the checkpoint with a consistency proof from
the size that witness last cosigned; a witness that knows another size answers 409
with it, and is asked once more from there. Each cosignature is verified before it
is kept; the published checkpoint carries the ones for its size. A witness that
refuses (a fork it saw, a proof it does not accept) is logged as an error every
time: it is the alarm the whole arrangement exists for.

Asking runs in a thread of its own beside the sequencer, with short timeouts: a slow
or unreachable witness never delays sequencing or the maximum merge delay.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import func, select

from trustable.bootstrap import Trustable
from trustable.core.errors import ConfigurationError
from trustable.ledger import service
from trustable.ledger.note import (
    Note,
    NoteError,
    NoteKey,
    Signature,
    open_note,
    parse_signature_line,
    parse_vkey,
)
from trustable.ledger.public import Published, checkpoint
from trustable.ledger.tables import ledger_cosignatures
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_ignoring_conflicts

log = logging.getLogger("trustable.ledger")

TIMEOUT_S = 5.0
RETRY_S = 30.0  # a witness that failed is asked again after this long
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class WitnessConfig:
    key: NoteKey
    url: str  # the witness's submission prefix (`<url>/add-checkpoint`)


def parse_witnesses(text: str) -> tuple[WitnessConfig, ...]:
    """`<verifier key> <url>` pairs, separated by commas (TRUSTABLE_WITNESSES)."""
    found: list[WitnessConfig] = []
    for item in text.split(","):
        if not item.strip():
            continue
        parts = item.split()
        if len(parts) != 2 or not parts[1].startswith(("http://", "https://")):
            raise NoteError("each witness is '<verifier key> <http(s) URL>', separated by commas")
        found.append(WitnessConfig(parse_vkey(parts[0]), parts[1].rstrip("/")))
    return tuple(found)


def configured(app: Trustable) -> tuple[WitnessConfig, ...]:
    """The witnesses `TRUSTABLE_WITNESSES` names (checked when serving starts)."""
    try:
        return parse_witnesses(app.settings.witnesses)
    except NoteError as exc:
        raise ConfigurationError(f"TRUSTABLE_WITNESSES: {exc}") from None


def cosigned_size(uow: UnitOfWork, witness: NoteKey) -> int:
    """The largest size this witness cosigned (0: none yet)."""
    found = uow.connection.execute(
        select(func.max(ledger_cosignatures.c.size)).where(
            ledger_cosignatures.c.witness == witness.vkey()
        )
    ).scalar_one()
    return int(found or 0)


def cosignatures(uow: UnitOfWork, size: int) -> list[Signature]:
    """The kept cosignature lines for the checkpoint of `size`, by witness."""
    rows = uow.connection.execute(
        select(ledger_cosignatures.c.line)
        .where(ledger_cosignatures.c.size == size)
        .order_by(ledger_cosignatures.c.witness)
    ).scalars()
    return [parse_signature_line(line.rstrip("\n")) for line in rows]


def keep(
    uow: UnitOfWork, witness: NoteKey, size: int, lines: Sequence[Signature], at: datetime
) -> None:
    insert_ignoring_conflicts(
        uow,
        ledger_cosignatures,
        [
            {"witness": witness.vkey(), "size": size, "line": s.line(), "cosigned_at": at}
            for s in lines
        ],
    )


def published(app: Trustable) -> Published:
    """The checkpoint as published: the log's signature, then its witnesses'."""
    with app.reader() as uow:
        found = checkpoint(uow, app.vault, app.settings.checkpoint_origin)
        extra = cosignatures(uow, found.checkpoint.size)
    if not extra:
        return found
    return Published(found.checkpoint, found.note.with_signatures(extra), found.head)


@dataclass(frozen=True)
class Asked:
    witness: str
    size: int
    outcome: str  # "cosigned", "already", or why not


def ask(
    app: Trustable, client: httpx.Client, chosen: Sequence[WitnessConfig] | None = None
) -> list[Asked]:
    """Ask the witnesses (every configured one by default) to cosign the latest
    checkpoint."""
    outcomes: list[Asked] = []
    with app.reader() as uow:
        current = checkpoint(uow, app.vault, app.settings.checkpoint_origin)
    size = current.checkpoint.size
    if size == 0:
        return outcomes
    for witness in configured(app) if chosen is None else chosen:
        with app.reader() as uow:
            old = cosigned_size(uow, witness.key)
        if old >= size:
            outcomes.append(Asked(witness.key.name, size, "already"))
            continue
        outcomes.append(_ask_one(app, client, witness, current, old))
    return outcomes


def _ask_one(
    app: Trustable, client: httpx.Client, witness: WitnessConfig, current: Published, old: int
) -> Asked:
    name, size = witness.key.name, current.checkpoint.size
    note = current.note.serialize()
    for _ in range(2):  # a 409 tells the size the witness has: ask once more from it
        with app.reader() as uow:
            proof = service.consistency_proof(uow, old, size) if 0 < old < size else []
        body = "".join([f"old {old}\n", *(f"{_b64(p)}\n" for p in proof), "\n", note])
        try:
            answer = client.post(f"{witness.url}/add-checkpoint", content=body.encode())
        except httpx.HTTPError as exc:
            log.warning("witness %s could not be reached: %s", name, exc.__class__.__name__)
            return Asked(name, size, "unreachable")
        if answer.status_code == 409 and answer.headers.get("content-type", "").startswith(
            SIZE_TYPE
        ):
            try:
                old = int(answer.text.strip())
            except ValueError:
                break
            if old > size:  # it cosigned more than this log has: not this log's tree
                break
            continue  # (the same size: it checks the roots are the same)
        if answer.status_code != 200:
            log.error(
                "witness %s refused the checkpoint of size %d (%d): %s",
                name,
                size,
                answer.status_code,
                answer.text.strip()[:200],
            )
            return Asked(name, size, f"refused ({answer.status_code})")
        try:
            lines = [
                s for s in _lines(answer.text) if s.name == name and s.key_id == witness.key.key_id
            ]
            open_note(Note(current.note.text, tuple(lines)), [witness.key])
        except NoteError as exc:
            log.error("witness %s answered a cosignature that does not verify: %s", name, exc)
            return Asked(name, size, "bad cosignature")
        with app.uow() as uow:
            keep(uow, witness.key, size, lines, app.clock())
            uow.commit()
        return Asked(name, size, "cosigned")
    log.error("witness %s and the log disagree on the size it cosigned", name)
    return Asked(name, size, "size disagreement")


def _lines(text: str) -> list[Signature]:
    return [parse_signature_line(line) for line in text.splitlines() if line]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Asker:
    """Asks the witnesses in a thread of its own, when the sequencer wakes it (after
    each of its rounds while it leads); a witness that failed waits `RETRY_S`."""

    def __init__(self, app: Trustable) -> None:
        self.app = app
        self.wake = threading.Event()
        self._resting: dict[str, float] = {}

    def run_forever(self, stop: threading.Event) -> None:
        with httpx.Client(timeout=TIMEOUT_S) as client:
            while not stop.is_set():
                if not self.wake.wait(1.0):
                    continue
                self.wake.clear()
                try:
                    self.round(client)
                except Exception as exc:  # asked again next round; sequencing goes on
                    log.error("asking the witnesses failed: %s", exc.__class__.__name__)

    def round(self, client: httpx.Client) -> list[Asked]:
        now = time.monotonic()
        ready = [w for w in configured(self.app) if self._resting.get(w.key.name, 0) <= now]
        outcomes = ask(self.app, client, ready)
        for asked in outcomes:
            if asked.outcome not in ("cosigned", "already"):
                self._resting[asked.witness] = now + RETRY_S
        return outcomes


def start_in_background(app: Trustable) -> tuple[Asker, threading.Thread, threading.Event]:
    """The asking thread (its `wake` is the sequencer's to set)."""
    configured(app)  # a malformed TRUSTABLE_WITNESSES stops the start, naming it
    asker = Asker(app)
    stop = threading.Event()
    thread = threading.Thread(
        target=asker.run_forever, args=(stop,), name="trustable-witnesses", daemon=True
    )
    thread.start()
    return asker, thread, stop
