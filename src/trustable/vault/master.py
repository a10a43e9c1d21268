"""The master key: from `TRUSTABLE_MASTER_KEY`, or a key file made on first run.

Each master key has a public id (`master_id`), recorded beside every row it wraps in
the key store, so that during a rotation each row says which of two keys opens it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trustable.core.errors import VaultError
from trustable.core.files import create_private, narrow, private_folder

MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
_MASTER_ID_LABEL = b"trustable master key id"


def master_id(key: bytes) -> str:
    """A short public name for a master key: 16 hex characters of an HMAC under it.

    It can be stored, logged and printed: telling two keys apart this way reveals
    nothing that would help to find either key.
    """
    return hmac.digest(key, _MASTER_ID_LABEL, "sha256")[:8].hex()


class MasterKey:
    """A master key ready to wrap and unwrap key-store secrets (AES-256-GCM).

    `repr` shows only the public id, so a key never reaches a log by accident.
    """

    __slots__ = ("id", "_aead")

    def __init__(self, key: bytes) -> None:
        if len(key) != MASTER_KEY_BYTES:
            raise VaultError(f"a master key must be {MASTER_KEY_BYTES} bytes")
        self.id = master_id(key)
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return f"MasterKey(id={self.id!r})"

    def wrap(self, secret: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """The secret; raises `cryptography.exceptions.InvalidTag` when `blob` was
        wrapped by another key, for another row, or damaged."""
        return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_key(text: str, *, origin: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise VaultError(f"{origin}: the master key is not valid base64") from exc
    if len(key) != MASTER_KEY_BYTES:
        raise VaultError(
            f"{origin}: the master key must be {MASTER_KEY_BYTES} bytes, got {len(key)}"
        )
    return key


def load_or_create_master_key(configured: str | None, key_file: Path) -> bytes:
    """The configured key, else the key file's, else a new key file (mode 0600).

    The file is created with O_EXCL so two processes starting together cannot
    each write a different key.
    """
    if configured:
        return decode_key(configured, origin="TRUSTABLE_MASTER_KEY")
    if key_file.exists():
        narrow(key_file)
        return decode_key(key_file.read_text(encoding="ascii"), origin=str(key_file))
    private_folder(key_file.parent)
    key = secrets.token_bytes(MASTER_KEY_BYTES)
    try:
        fd = create_private(key_file)
    except FileExistsError:
        return decode_key(key_file.read_text(encoding="ascii"), origin=str(key_file))
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(encode_key(key) + "\n")
    return key


def next_key_file(key_file: Path) -> Path:
    """Where a rotation keeps the new master key it generated: beside the key file."""
    return key_file.with_name(key_file.name + ".next")


def read_key_file(path: Path) -> bytes:
    """A master key from a file that must exist and be readable by its owner only.

    Group- or world-readable key files are refused, as ssh refuses private keys:
    anyone else on the machine could have copied the key.
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except FileNotFoundError as exc:
        raise VaultError(f"{path}: no such key file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultError(f"{path}: the key file cannot be read") from exc
    if mode & 0o077:
        raise VaultError(f"{path}: the key file is readable by others; chmod 600 it")
    return decode_key(text, origin=str(path))


def load_next_master_key(key_file: Path) -> bytes | None:
    """The new key of a rotation in progress, when one was generated beside `key_file`."""
    path = next_key_file(key_file)
    if not path.exists():
        return None
    return read_key_file(path)


def create_key_file(path: Path) -> bytes:
    """A new random master key written to `path` (mode 0600); the existing key when a
    file is already there (a rotation that was interrupted, or run twice at once).

    O_EXCL: two runs starting together cannot each write a different key.
    """
    private_folder(path.parent)
    key = secrets.token_bytes(MASTER_KEY_BYTES)
    try:
        fd = create_private(path)
    except FileExistsError:
        return read_key_file(path)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(encode_key(key) + "\n")
        out.flush()
        os.fsync(out.fileno())
    sync_folder(path.parent)
    return key


def replace_key_file(path: Path, key: bytes) -> None:
    """Put `key` in `path` in one step (temporary file, then `os.replace`), mode 0600.

    A crash leaves either the old file or the new one, never half of either; the
    old key is not kept anywhere else.
    """
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = create_private(temp)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(encode_key(key) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a file's creation or renaming in `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
