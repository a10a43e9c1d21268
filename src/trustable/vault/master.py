"""The master key: from `TRUSTABLE_MASTER_KEY`, or a key file made on first run."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from trustable.core.errors import VaultError

MASTER_KEY_BYTES = 32


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
        return decode_key(key_file.read_text(encoding="ascii"), origin=str(key_file))
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(MASTER_KEY_BYTES)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return decode_key(key_file.read_text(encoding="ascii"), origin=str(key_file))
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(encode_key(key) + "\n")
    return key
