"""Opaque identifiers.

A customer id must never be derived from personal data: it is random, so knowing an
email address tells nothing about the id and the id tells nothing about the person.
"""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 20) -> str:
    """Return `prefix_` followed by `length` random base-36 characters (20: 103 bits)."""
    number = secrets.randbelow(36**length)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 36)
        chars.append(_ALPHABET[digit])
    return f"{prefix}_" + "".join(chars)


def new_customer_id() -> str:
    return new_id("cus")
