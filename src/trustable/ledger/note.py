"""C2SP signed notes, checkpoints and cosignatures, with no storage.

The formats outsiders check Trustable's ledger with (docs/ledger.md, "Public
checkpoints and tiles"), as the transparency-log ecosystem writes them, so that any
C2SP tool can read them:

- a *signed note* (c2sp.org/signed-note): a text ending in a newline, a blank line,
  then one `— <key name> <base64(key id || signature)>` line per signature;
- a *checkpoint* (c2sp.org/tlog-checkpoint): a note whose text is the log's origin,
  its tree size and its base64 root hash, one per line;
- a *cosignature* (c2sp.org/tlog-cosignature, Ed25519, signature type 0x04): a
  witness's timestamped signature over `cosignature/v1`, `time <T>` and the
  checkpoint's text;
- a *verifier key* (vkey): `<name>+<hex key id>+<base64(type || public key)>`, the
  one string that tells a verifier which key to trust under which name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01  # a log's (or any) Ed25519 note signature
COSIGNATURE = 0x04  # a witness's timestamped Ed25519 cosignature (cosignature/v1)
DASH = "\u2014"  # "—", which starts every signature line
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
MAX_NOTE = 1 << 16  # bytes: a checkpoint with 100 signatures is under 12 KiB

_NAME = re.compile(r"^[^\s+]+$")
_SIZE = re.compile(r"^(0|[1-9][0-9]{0,19})$")


class NoteError(ValueError):
    """A note, checkpoint or key that is malformed, or whose signatures do not
    verify: the message says which."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not standard base64") from None


def check_name(name: str) -> str:
    """A key name or origin as notes allow it: not empty, no spaces, no '+'."""
    if not name or not _NAME.match(name):
        raise NoteError(f"{name!r} cannot name a key: it must be non-empty, without spaces or '+'")
    return name


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class NoteKey:
    """A public key that signs notes under `name` with signature type `kind`."""

    name: str
    kind: int
    public: bytes  # the 32 raw bytes of the Ed25519 key

    @property
    def key_id(self) -> bytes:
        """SHA-256(name || 0x0A || type || public key)[:4]."""
        return hashlib.sha256(
            self.name.encode() + b"\n" + bytes([self.kind]) + self.public
        ).digest()[:4]

    def vkey(self) -> str:
        """The verifier key string: `<name>+<hex key id>+<base64(type || key)>`."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([self.kind]) + self.public)}"

    def ed25519(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public)

    @classmethod
    def of(cls, name: str, key: Ed25519PublicKey, kind: int = ED25519) -> NoteKey:
        return cls(check_name(name), kind, raw_public(key))


def parse_vkey(text: str) -> NoteKey:
    """A verifier key string, checked: its key id must be the one its name, type and
    key give (a copy-and-paste error is caught here, not at the first signature)."""
    parts = text.strip().split("+", 2)  # the base64 key may hold "+" itself
    if len(parts) != 3:
        raise NoteError("a verifier key has three parts: <name>+<key id>+<base64 key>")
    name, hex_id, material = parts
    check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError("a verifier key's id is 8 lowercase hex digits")
    raw = _unb64(material, "the verifier key's key")
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE):
        raise NoteError("only Ed25519 note keys (types 0x01 and 0x04) are supported")
    key = NoteKey(name, raw[0], raw[1:])
    if key.key_id.hex() != hex_id:
        raise NoteError("the verifier key's id does not match its name and key")
    try:
        key.ed25519()
    except ValueError:
        raise NoteError("the verifier key is not an Ed25519 public key") from None
    return key


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes  # what follows the key id: the algorithm's own bytes

    def line(self) -> str:
        return f"{DASH} {self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    text: str  # ends in a newline
    signatures: tuple[Signature, ...]

    def serialize(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, more: list[Signature]) -> Note:
        """This note with `more` signatures after its own (one line per key)."""
        seen = {(s.name, s.key_id) for s in self.signatures}
        added = [s for s in more if (s.name, s.key_id) not in seen]
        return Note(self.text, self.signatures + tuple(added))


def parse_note(data: str | bytes) -> Note:
    """A signed note's text and signature lines (nothing verified yet)."""
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE:
            raise NoteError("the note is too large")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("a note is UTF-8 text") from None
    if len(data) > MAX_NOTE:
        raise NoteError("the note is too large")
    if any(ord(c) < 0x20 and c != "\n" for c in data):
        raise NoteError("a note holds no control characters but newlines")
    split = data.rfind("\n\n")
    if split < 0 or not data.endswith("\n"):
        raise NoteError("a note is its text, a blank line, then signature lines")
    text, block = data[: split + 1], data[split + 2 :]
    lines = block.split("\n")[:-1]
    if not lines:
        raise NoteError("the note carries no signature")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note carries more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(parse_signature_line(line) for line in lines))


def parse_signature_line(line: str) -> Signature:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != DASH:
        raise NoteError("a signature line is '— <key name> <base64 signature>'")
    name = check_name(parts[1])
    raw = _unb64(parts[2], "a signature")
    if len(raw) < 5:
        raise NoteError("a signature is a 4-byte key id and the signature")
    return Signature(name, raw[:4], raw[4:])


def sign(text: str, name: str, key: Ed25519PrivateKey) -> Signature:
    """An Ed25519 note signature (type 0x01) over `text`."""
    if not text.endswith("\n"):
        raise NoteError("a note's text ends in a newline")
    public = NoteKey.of(name, key.public_key())
    return Signature(name, public.key_id, key.sign(text.encode("utf-8")))


def open_note(note: Note, keys: list[NoteKey]) -> list[NoteKey]:
    """The known keys whose signatures on `note` verify.

    Signatures by unknown keys (another name or id) are ignored, as the spec says; a
    known key's signature that fails rejects the whole note, and so does a note no
    known key signed."""
    known = {(k.name, k.key_id): k for k in keys}
    verified: list[NoteKey] = []
    for found in note.signatures:
        key = known.get((found.name, found.key_id))
        if key is None:
            continue
        if not _verifies(key, note.text, found.signature):
            raise NoteError(f"the signature of {key.name} does not verify")
        verified.append(key)
    if not verified:
        raise NoteError("no signature by a known key")
    return verified


def _verifies(key: NoteKey, text: str, signature: bytes) -> bool:
    public = key.ed25519()
    try:
        if key.kind == ED25519:
            public.verify(signature, text.encode("utf-8"))
        elif key.kind == COSIGNATURE:
            if len(signature) != 72:
                return False
            (timestamp,) = struct.unpack(">Q", signature[:8])
            public.verify(signature[8:], cosigned_message(text, timestamp))
        else:
            return False
    except InvalidSignature:
        return False
    return True


# -- checkpoints -------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(f"{line}\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """A checkpoint's note text: origin, size and root hash, then extension lines."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint's text ends in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a tree size and a root hash")
    origin, size, root = lines[:3]
    if not origin:
        raise NoteError("a checkpoint's origin is not empty")
    if not _SIZE.match(size) or int(size) >= 1 << 63:
        raise NoteError("a checkpoint's tree size is a decimal number without leading zeros")
    digest = _unb64(root, "a checkpoint's root hash")
    if len(digest) != 32:
        raise NoteError("a checkpoint's root hash is 32 bytes")
    extensions = tuple(lines[3:])
    if any(not line for line in extensions):
        raise NoteError("a checkpoint's extension lines are not empty")
    return Checkpoint(origin, int(size), digest, extensions)


# -- cosignatures --------------------------------------------------------------------


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header, the time, the checkpoint's text."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def cosign(checkpoint_text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> Signature:
    """A witness's cosignature (type 0x04) on a checkpoint, as of `timestamp` (POSIX)."""
    if not 0 <= timestamp < 1 << 63:
        raise NoteError("a cosignature's time is a POSIX timestamp")
    public = NoteKey.of(name, key.public_key(), COSIGNATURE)
    signed = key.sign(cosigned_message(checkpoint_text, timestamp))
    return Signature(name, public.key_id, struct.pack(">Q", timestamp) + signed)


def cosignature_time(signature: Signature) -> int:
    """When a cosignature was made (its first eight bytes)."""
    if len(signature.signature) != 72:
        raise NoteError("a cosignature is a timestamp and an Ed25519 signature")
    (timestamp,) = struct.unpack(">Q", signature.signature[:8])
    return int(timestamp)
