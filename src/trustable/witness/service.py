"""A witness: an independent cosigner of transparency logs (C2SP tlog-witness).

Another organisation runs it, beside nothing of the log's: its own Ed25519 key, its
own small state (one SQLite file in its own folder), and the logs it follows, each
by origin and verifier key. A log sends it each new checkpoint with a consistency
proof from the last one the witness cosigned (`add-checkpoint`); the witness checks
the log's signature and that proof and, only then, records the checkpoint and
returns its cosignature. When it knows a log's URL it does not take the log's word
for the proof: it builds the consistency proof itself from the log's public tiles.

A log that ever shows it two trees that cannot both be true (a checkpoint of a size
it cosigned with another root, or one its recorded tree is not the start of) is
*forked*: the evidence is kept, every later checkpoint of that log is refused, and
each refusal is logged as an error. That is what makes a split view detectable: a
browser that trusts a checkpoint only with enough witnesses' cosignatures cannot be
shown a private tree.
"""

from __future__ import annotations

import base64
import binascii
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from trustable.core.errors import TrustableError
from trustable.core.files import private_folder, private_sqlite, write_private
from trustable.ledger import merkle
from trustable.ledger.note import (
    COSIGNATURE,
    ED25519,
    Checkpoint,
    Note,
    NoteError,
    NoteKey,
    Signature,
    check_name,
    cosign,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_vkey,
)
from trustable.ledger.tiles import TileError, TileReader

log = logging.getLogger("trustable.witness")

KEY_FILE = "witness.key"
STATE_FILE = "witness.db"
NAME_FILE = "witness.name"
MAX_PROOF = 63  # consistency proof lines a request may carry
SIZE_TYPE = "text/x.tlog.size"

Fetch = Callable[[str, str], bytes]  # (log URL, path under it) -> body


class WitnessError(TrustableError):
    """The witness's folder is missing, damaged or asked for something impossible."""

    code = "witness_error"
    status = 400


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to `add-checkpoint`, as the spec prescribes it."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class FollowedLog:
    origin: str
    vkey: str
    url: str | None
    size: int
    root: bytes | None
    forked: str | None  # why the log was found forked, if it was


_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin TEXT PRIMARY KEY,
    vkey TEXT NOT NULL,
    url TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    root BLOB,
    checkpoint TEXT,
    cosigned_at INTEGER
);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    fork INTEGER NOT NULL,
    checkpoint TEXT NOT NULL
);
"""


def init(folder: Path, name: str) -> NoteKey:
    """A new witness in `folder`: its key (owner-only file), name and empty state."""
    check_name(name)
    private_folder(folder)
    key_path = folder / KEY_FILE
    if key_path.exists():
        raise WitnessError(f"{folder} already holds a witness; its key is kept as it is")
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    write_private(key_path, base64.b64encode(raw) + b"\n")
    (folder / NAME_FILE).write_text(name + "\n", encoding="utf-8")
    Witness.open(folder).close()
    return NoteKey.of(name, key.public_key(), COSIGNATURE)


class Witness:
    def __init__(
        self, name: str, key: Ed25519PrivateKey, db: sqlite3.Connection, fetch: Fetch | None
    ) -> None:
        self.name = name
        self._key = key
        self._db = db
        self._fetch = fetch
        self._lock = threading.Lock()  # one connection: one request at a time uses it
        self.vkey = NoteKey.of(name, key.public_key(), COSIGNATURE)

    @classmethod
    def open(cls, folder: Path, fetch: Fetch | None = None) -> Witness:
        try:
            name = (folder / NAME_FILE).read_text(encoding="utf-8").strip()
            raw = base64.b64decode((folder / KEY_FILE).read_bytes().strip(), validate=True)
            key = Ed25519PrivateKey.from_private_bytes(raw)
        except (OSError, ValueError, binascii.Error) as exc:
            raise WitnessError(
                f"{folder} holds no usable witness ({exc.__class__.__name__}): "
                "run `trustable witness init` there first"
            ) from None
        private_sqlite(folder / STATE_FILE)
        db = sqlite3.connect(folder / STATE_FILE, isolation_level=None, check_same_thread=False)
        db.executescript(_SCHEMA)
        return cls(name, key, db, fetch)

    def close(self) -> None:
        self._db.close()

    # -- the logs it follows ---------------------------------------------------------

    def follow(self, vkey: str, url: str | None = None) -> FollowedLog:
        """Follow the log that signs with `vkey` (its name is the log's origin);
        `url`: where its checkpoint and tiles are, so consistency is checked from
        them. Following it again updates the URL and keeps what was cosigned."""
        key = parse_vkey(vkey)
        if key.kind != ED25519:
            raise WitnessError("a log signs its checkpoints with an Ed25519 key (type 0x01)")
        self._db.execute(
            "INSERT INTO logs (origin, vkey, url) VALUES (?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET url = excluded.url",
            (key.name, key.vkey(), url.rstrip("/") if url else None),
        )
        found = self.followed(key.name)
        assert found is not None
        if found.vkey != key.vkey():
            raise WitnessError(f"{key.name} is followed with another key; a log keeps its key")
        return found

    def followed(self, origin: str) -> FollowedLog | None:
        row = self._db.execute(
            "SELECT origin, vkey, url, size, root FROM logs WHERE origin = ?", (origin,)
        ).fetchone()
        if row is None:
            return None
        fork = self._db.execute(
            "SELECT reason FROM refusals WHERE origin = ? AND fork = 1 ORDER BY id LIMIT 1",
            (origin,),
        ).fetchone()
        return FollowedLog(row[0], row[1], row[2], row[3], row[4], fork[0] if fork else None)

    def logs(self) -> list[FollowedLog]:
        origins = [r[0] for r in self._db.execute("SELECT origin FROM logs ORDER BY origin")]
        return [f for f in (self.followed(o) for o in origins) if f is not None]

    def refusals(self, origin: str) -> list[tuple[str, bool]]:
        rows = self._db.execute(
            "SELECT reason, fork FROM refusals WHERE origin = ? ORDER BY id", (origin,)
        )
        return [(reason, bool(fork)) for reason, fork in rows]

    # -- add-checkpoint --------------------------------------------------------------

    def add_checkpoint(self, body: bytes) -> Answer:
        """One `add-checkpoint` request, checked and answered as c2sp.org/tlog-witness
        says: 404 unknown log, 403 no valid signature of the log, 400 malformed or old
        size above the checkpoint's, 409 old size not the one cosigned (body: that
        size) or same size with another root, 422 consistency not proven; 200 with
        the cosignature line once the new checkpoint is recorded."""
        try:
            old, proof, note_text = _parse_request(body)
            note = parse_note(note_text)
            checkpoint = parse_checkpoint(note.text)
        except (NoteError, ValueError) as exc:
            return Answer(400, f"{exc}\n")
        followed = self.followed(checkpoint.origin)
        if followed is None:
            return Answer(404, "this witness does not follow that log\n")
        try:
            open_note(note, [parse_vkey(followed.vkey)])
        except NoteError as exc:
            return Answer(403, f"{exc}\n")
        if old > checkpoint.size:
            return Answer(400, "the old size is above the checkpoint's size\n")
        with self._exclusive():  # the check and the update, atomically
            current = self.followed(checkpoint.origin)
            assert current is not None
            if current.forked is not None:
                return self._refuse(current, checkpoint, note, f"forked: {current.forked}", False)
            if old != current.size:
                return Answer(409, f"{current.size}\n", SIZE_TYPE)
            if checkpoint.size == current.size and current.root is not None:
                if checkpoint.root != current.root:
                    reason = f"two roots for size {current.size}"
                    return self._refuse(current, checkpoint, note, reason, True)
            elif current.size > 0:
                assert current.root is not None
                verdict = self._consistent(current, checkpoint, proof)
                if verdict is not None:
                    return verdict
            elif proof:
                return Answer(422, "a proof from size 0 is empty\n")
            stamp = int(time.time())
            signature = cosign(note.text, self.name, self._key, stamp)
            self._db.execute(
                "UPDATE logs SET size = ?, root = ?, checkpoint = ?, cosigned_at = ? "
                "WHERE origin = ?",
                (checkpoint.size, checkpoint.root, note.serialize(), stamp, checkpoint.origin),
            )
        return Answer(200, signature.line())

    def _consistent(
        self, current: FollowedLog, checkpoint: Checkpoint, proof: list[bytes]
    ) -> Answer | None:
        """None when `checkpoint` extends what was cosigned; else the refusal. From
        the log's tiles when its URL is known (a fork), else from the sent proof."""
        assert current.root is not None
        if current.url is not None and self._fetch is not None:
            fetch = self._fetch
            url = current.url
            reader = TileReader(lambda path: fetch(url, path), checkpoint.size)
            try:
                if reader.root() != checkpoint.root:
                    return self._refuse(
                        current, checkpoint, None, "its tiles do not add up to its root", True
                    )
                proof = reader.consistency_proof(current.size)
            except (TileError, OSError) as exc:
                return Answer(422, f"the log's tiles could not be read: {exc}\n")
            fork = True
        else:
            fork = False
        if not merkle.verify_consistency(
            current.size, checkpoint.size, current.root, checkpoint.root, proof
        ):
            reason = f"size {checkpoint.size} does not extend the cosigned {current.size}"
            answer = self._refuse(current, checkpoint, None, reason, fork)
            return Answer(422, answer.body)
        return None

    def _refuse(
        self,
        current: FollowedLog,
        checkpoint: Checkpoint,
        note: Note | None,
        reason: str,
        fork: bool,
    ) -> Answer:
        """Refuse loudly; a fork is kept for good, with the checkpoint as evidence."""
        log.error(
            "refused a checkpoint of %s at size %d: %s", current.origin, checkpoint.size, reason
        )
        self._db.execute(
            "INSERT INTO refusals (origin, at, reason, fork, checkpoint) VALUES (?, ?, ?, ?, ?)",
            (
                current.origin,
                int(time.time()),
                reason,
                int(fork),
                note.serialize() if note else checkpoint.text(),
            ),
        )
        return Answer(409, f"refused: {reason}\n")

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This process's other requests wait on the lock, other processes on the
        file's write lock: the cosigned size never goes back (the spec's race)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def _parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """(old size, proof hashes, checkpoint note) of an add-checkpoint body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the request is UTF-8 text") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ValueError("the request is an old size line, proof lines, a blank line, a note")
    lines = head.split("\n")
    first = lines[0]
    if not first.startswith("old ") or not (first[4:] == "0" or first[4:5] in "123456789"):
        raise ValueError("the request starts with 'old <size>'")
    try:
        old = int(first[4:])
    except ValueError:
        raise ValueError("the old size is a decimal number") from None
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF:
        raise ValueError(f"a consistency proof has at most {MAX_PROOF} lines")
    proof: list[bytes] = []
    for line in proof_lines:
        try:
            digest = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a proof line is one base64 hash") from None
        if len(digest) != 32:
            raise ValueError("a proof line is one 32-byte hash")
        proof.append(digest)
    return old, proof, note


def request_body(old: int, proof: list[bytes], checkpoint_note: str) -> bytes:
    """An add-checkpoint request body (what a log sends)."""
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint_note).encode()


def cosignatures_in(answer: str) -> list[Signature]:
    """The signature lines of a witness's 200 answer."""
    return list(parse_note("x\n\n" + answer).signatures)
