"""The kinds of identifier, how each is spelled, and how one comes to be believed."""

from __future__ import annotations

import re

IDENTIFIER_KINDS = ("user_id", "anonymous_id", "email", "phone", "device_id")


CONTACT_KINDS = ("email", "phone")  # what Trustable may sign a customer in with or write to


SOURCE = "source"  # vouched for by a trusted source (a `collect:server` key)


PROOF = "proof"  # the customer proved control (a code sent to the address)


_PHONE_NOISE = re.compile(r"[\s().-]")


Identifier = tuple[str, str]  # (kind, normalised value)


def normalise(kind: str, value: object) -> str:
    """One spelling per identifier, so the blind index finds it whatever the casing."""
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    if kind == "email":
        return text.lower()
    if kind == "phone":
        return _PHONE_NOISE.sub("", text)
    return text


def looks_like_email(text: str) -> bool:
    """One `@`, a dot after it, no white space: what is worth mailing a code to
    (whether the address is real, only the code that reaches it can tell)."""
    local, at, domain = text.partition("@")
    return (
        bool(local)
        and at == "@"
        and "@" not in domain
        and "." in domain
        and not any(c.isspace() for c in text)
    )
