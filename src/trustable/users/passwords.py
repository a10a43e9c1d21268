"""Console passwords: the rules they follow and the Argon2id hash they are kept as.

A password is normalised (Unicode NFKC) before it is checked or hashed, so the same
password typed on two keyboards, composed or decomposed, is the same password.
"""

from __future__ import annotations

import functools
import secrets
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from trustable.core.errors import InvalidInput

# OWASP Password Storage Cheat Sheet, Argon2id: "a minimum configuration of 19 MiB of
# memory, an iteration count of 2, and 1 degree of parallelism" (m=19456 KiB, t=2,
# p=1), with a 16-byte salt and a 32-byte hash. (argon2-cffi's own default is RFC
# 9106's low-memory profile, m=64 MiB, t=3, p=4: stronger, and slower on the small
# machines Trustable is self-hosted on; either is fine, this one is OWASP's.)
HASHER = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # long enough for any passphrase, short enough to hash cheaply


class WeakPassword(InvalidInput):
    """The password breaks a rule; the message says which, never the password."""

    code = "weak_password"


def normalize_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password(password: str, username: str) -> None:
    """At least `MIN_PASSWORD` characters, not blank, not the username (NIST 800-63B:
    length over composition rules, which only teach people `Password1!`)."""
    password = normalize_password(password)
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"a password has at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise WeakPassword("a password is more than spaces")
    if password.casefold() == username.casefold():
        raise WeakPassword("a password is not the username")


def hash_password(password: str) -> str:
    return HASHER.hash(normalize_password(password))


def verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, normalize_password(password))
    except (VerificationError, InvalidHashError):
        return False  # a wrong password, or a damaged hash: either way, no


@functools.cache
def dummy_hash() -> str:
    """What an unknown username is checked against, so it costs the same time."""
    return HASHER.hash(secrets.token_urlsafe(24))
