"""Creating and checking API keys.

A key reads `tk_<key id>.<secret>`. The secret is 32 random bytes, so a plain SHA-256
is enough to store it (a slow password hash protects low-entropy secrets, which these
are not) and keeps authentication cheap on the collection path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select

from trustable.access.tables import api_keys
from trustable.core.errors import Forbidden, InvalidInput, NotAuthenticated
from trustable.core.ids import new_id
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork

FIXED_SCOPES = (
    # A public write key: the one a web page or app ships to every visitor. What it
    # sends is data about a visitor, never proof of who someone is.
    "collect",
    # A secret server-side write key: the shop's backend, which knows who is signed
    # in. It may vouch for identifiers (make an email a contact) and join histories.
    "collect:server",
    "consent:read",
    "consent:write",
    "requests",
    "portal",
    "incidents",  # breach response: record incidents, send notices, the regulator report
    "analytics",  # aggregates over consented data, never one customer
    "admin",
)
_KEY = re.compile(r"^tk_(?P<key_id>key_[0-9a-z]{20})\.(?P<secret>[A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        if scope == "collect" and "collect:server" in self.scopes:
            return True  # a trusted source may send all a public one may
        return "admin" in self.scopes or scope in self.scopes

    @property
    def trusted_source(self) -> bool:
        """Whether what this key sends may vouch for who someone is."""
        return "collect:server" in self.scopes or "admin" in self.scopes


def check_scopes(scopes: list[str], policy: Policy) -> frozenset[str]:
    if not scopes:
        raise InvalidInput("a key needs at least one scope", code="invalid_scope")
    for scope in scopes:
        if scope in FIXED_SCOPES:
            continue
        if scope.startswith("read:") and policy.purpose(scope[5:]) is not None:
            continue
        raise InvalidInput(
            f"unknown scope '{scope}': use {', '.join(FIXED_SCOPES)} or read:<purpose "
            "declared in the policy>",
            code="invalid_scope",
        )
    return frozenset(scopes)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_key(
    uow: UnitOfWork, policy: Policy, *, name: str, scopes: list[str], now: datetime
) -> tuple[ApiKey, str]:
    """Store a new key; return it and its plaintext, which is never stored nor shown again."""
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput("a key needs a name of 1 to 120 characters", code="invalid_name")
    allowed = check_scopes(scopes, policy)
    key_id = new_id("key")
    secret = secrets.token_urlsafe(32)
    uow.connection.execute(
        insert(api_keys).values(
            key_id=key_id,
            name=name,
            secret_hash=_digest(secret),
            scopes=" ".join(sorted(allowed)),
            created_at=now,
        )
    )
    return ApiKey(key_id, name, allowed), f"tk_{key_id}.{secret}"


# Built once: every authenticated request runs it.
_KEY_BY_ID = select(api_keys).where(api_keys.c.key_id == bindparam("key_id"))


def authenticate(uow: UnitOfWork, presented: str | None) -> ApiKey:
    """The key behind `presented`, or `NotAuthenticated` (same answer for every failure)."""
    failure = NotAuthenticated("missing or invalid API key", code="invalid_key")
    if not presented:
        raise NotAuthenticated("an API key is required", code="missing_key")
    match = _KEY.match(presented.strip())
    if match is None:
        raise failure
    row = uow.connection.execute(_KEY_BY_ID, {"key_id": match["key_id"]}).first()
    if row is None or row.revoked_at is not None:
        raise failure
    if not hmac.compare_digest(row.secret_hash, _digest(match["secret"])):
        raise failure
    return ApiKey(row.key_id, row.name, frozenset(row.scopes.split()))


def require(key: ApiKey, scope: str) -> None:
    if not key.allows(scope):
        raise Forbidden(
            f"this key lacks the '{scope}' scope", code="missing_scope", key_id=key.key_id
        )


def key_names(uow: UnitOfWork, key_ids: list[str]) -> dict[str, str]:
    """The names the company gave these keys: how a customer's timeline says which
    of its services used their data."""
    if not key_ids:
        return {}
    rows = uow.connection.execute(
        select(api_keys.c.key_id, api_keys.c.name).where(api_keys.c.key_id.in_(key_ids))
    ).all()
    return {r.key_id: r.name for r in rows}
