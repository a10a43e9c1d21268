"""Creating, checking, listing and revoking API keys.

A key reads `tk_<key id>.<secret>`. The secret is 32 random bytes, so a plain SHA-256
is enough to store it (a slow password hash protects low-entropy secrets, which these
are not) and keeps authentication cheap on the collection path.

`authenticate` reads the key's row on every request and keeps nothing between
requests, so a key revoked (or past its expiry) is refused at once by every process
that shares the store: there is no cache to wait out.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

from sqlalchemy import bindparam, insert, or_, select, update

from trustable.access.tables import api_keys
from trustable.core.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from trustable.core.ids import new_id
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork

# Every fixed scope a key may hold, with what it is for: the one list that
# `trustable keys create --help`, the console's form and the README's table follow
# (tests/access/test_scopes.py holds the README to it).
SCOPES: Mapping[str, str] = MappingProxyType(
    {
        # What it sends is data about a visitor, never proof of who someone is.
        "collect": "PUBLIC write key for web pages and apps: anyone can read it, so what "
        "it sends never proves who someone is",
        # The backend knows who is signed in: it may vouch for identifiers (make an
        # email a contact) and join histories.
        "collect:server": "SECRET write key for the shop's backend, never in a page or app: "
        "it may vouch for who someone is and join their histories",
        "consent:read": "read customers' consent decisions and their history",
        "consent:write": "record customers' consent decisions (and read them)",
        "requests": "file customers' requests (access, export, erase, …) and follow them",
        "portal": "make one-time links that open a customer's privacy portal",
        "incidents": "breach response: record incidents, send notices, the regulator's report",
        "analytics": "aggregates over customers who allow statistics, never one customer",
        "admin": "every scope above, plus destinations, the requests queue, the ledger and "
        "keys; reading a customer's data still takes a read scope",
    }
)
FIXED_SCOPES = tuple(SCOPES)
READ_SCOPE = "read:<purpose>"
READ_SCOPE_MEANING = (
    "read customers' data for one purpose the policy declares (profiles, recommendations, "
    "segments): only what that purpose may use, and every read is logged"
)

# How often a key's `last_used_at` is written at most: collection must not write a
# row per request just to say a key is still in use.
USE_RECORDED_EVERY = timedelta(minutes=1)
KeyState = Literal["live", "expired", "revoked"]
_KEY = re.compile(r"^tk_(?P<key_id>key_[0-9a-z]{20})\.(?P<secret>[A-Za-z0-9_-]{43})$")
_DAYS = re.compile(r"^(?P<days>[0-9]{1,5})\s*d$", re.IGNORECASE)


def scope_meanings() -> dict[str, str]:
    """Every scope a key may hold (`read:<purpose>` standing for one per purpose), with
    what it is for."""
    return {**SCOPES, READ_SCOPE: READ_SCOPE_MEANING}


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[str]
    # As read when the key authenticated: whether this use should be recorded.
    last_used_at: datetime | None = field(default=None, compare=False)

    def allows(self, scope: str) -> bool:
        if scope == "collect" and "collect:server" in self.scopes:
            return True  # a trusted source may send all a public one may
        return "admin" in self.scopes or scope in self.scopes

    @property
    def trusted_source(self) -> bool:
        """Whether what this key sends may vouch for who someone is."""
        return "collect:server" in self.scopes or "admin" in self.scopes

    def use_due(self, now: datetime) -> bool:
        """Whether this use should be written down: the last one recorded is a
        minute old or more (or there is none)."""
        return self.last_used_at is None or now - self.last_used_at >= USE_RECORDED_EVERY


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown of a key: never its secret, nor the secret's hash."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def live(self, now: datetime) -> bool:
        """Whether the key still authenticates."""
        return self.revoked_at is None and not self.expired(now)

    def state(self, now: datetime) -> KeyState:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expired(now) else "live"


def check_scopes(scopes: list[str], policy: Policy) -> frozenset[str]:
    if not scopes:
        raise InvalidInput("a key needs at least one scope", code="invalid_scope")
    for scope in scopes:
        if scope in SCOPES:
            continue
        if scope.startswith("read:") and policy.purpose(scope[5:]) is not None:
            continue
        raise InvalidInput(
            f"unknown scope '{scope}': use {', '.join(FIXED_SCOPES)} or read:<purpose "
            "declared in the policy>",
            code="invalid_scope",
        )
    return frozenset(scopes)


def parse_expiry(text: str | None, *, now: datetime) -> datetime | None:
    """When a key should stop working, from what a person typed: a number of days
    (`90d`), a date (`2027-06-30`: refused from 00:00 UTC that day) or a moment in
    ISO 8601 (UTC unless it says otherwise). Nothing typed: it never expires.

    The moment must be in the future: a key born expired is a mistake to point out,
    not to store.
    """
    if text is None or not text.strip():
        return None
    typed = text.strip()
    days = _DAYS.match(typed)
    if days is not None:
        count = int(days["days"])
        if count < 1:
            raise InvalidInput("a key's expiry must be at least 1 day away", code="invalid_expiry")
        return now + timedelta(days=count)
    try:
        moment = datetime.fromisoformat(typed.replace("Z", "+00:00"))  # a date: its 00:00
    except ValueError:
        raise InvalidInput(
            f"cannot read the expiry '{typed[:40]}': give a number of days (90d) or a date "
            "(2027-06-30)",
            code="invalid_expiry",
        ) from None
    return _future(moment if moment.tzinfo else moment.replace(tzinfo=UTC), now)


def _future(expires_at: datetime, now: datetime) -> datetime:
    if expires_at.tzinfo is None:
        raise InvalidInput("a key's expiry needs a time zone", code="invalid_expiry")
    if expires_at <= now:
        raise InvalidInput(
            f"a key's expiry must be in the future (it is now {now:%Y-%m-%d %H:%M} UTC)",
            code="invalid_expiry",
        )
    return expires_at


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_key(
    uow: UnitOfWork,
    policy: Policy,
    *,
    name: str,
    scopes: list[str],
    now: datetime,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key; return it and its plaintext, which is never stored nor shown again.

    With `expires_at` (in the future), the key is refused from that moment on.
    """
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput("a key needs a name of 1 to 120 characters", code="invalid_name")
    allowed = check_scopes(scopes, policy)
    if expires_at is not None:
        expires_at = _future(expires_at, now)
    key_id = new_id("key")
    secret = secrets.token_urlsafe(32)
    uow.connection.execute(
        insert(api_keys).values(
            key_id=key_id,
            name=name,
            secret_hash=_digest(secret),
            scopes=" ".join(sorted(allowed)),
            created_at=now,
            expires_at=expires_at,
        )
    )
    return ApiKey(key_id, name, allowed), f"tk_{key_id}.{secret}"


# Built once: every authenticated request runs it.
_KEY_BY_ID = select(api_keys).where(api_keys.c.key_id == bindparam("key_id"))


def authenticate(uow: UnitOfWork, presented: str | None, *, now: datetime) -> ApiKey:
    """The key behind `presented`, or `NotAuthenticated`.

    A key that does not exist, whose secret is wrong, that was revoked or has expired
    gets the same answer: a caller learns nothing about which it was. The row is read
    on every call, so a revocation holds at once in every process.
    """
    failure = NotAuthenticated("missing or invalid API key", code="invalid_key")
    if not presented:
        raise NotAuthenticated("an API key is required", code="missing_key")
    match = _KEY.match(presented.strip())
    if match is None:
        raise failure
    row = uow.connection.execute(_KEY_BY_ID, {"key_id": match["key_id"]}).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(match["secret"])):
        raise failure
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise failure
    return ApiKey(row.key_id, row.name, frozenset(row.scopes.split()), row.last_used_at)


def record_use(uow: UnitOfWork, key_id: str, *, now: datetime) -> bool:
    """Note that a key was used now, unless a use was noted less than a minute ago.

    The condition is in the statement itself, so processes racing to record the same
    key write it once and none of them fails; the answer says whether this one wrote.
    """
    done = uow.connection.execute(
        update(api_keys)
        .where(
            api_keys.c.key_id == key_id,
            or_(
                api_keys.c.last_used_at.is_(None),
                api_keys.c.last_used_at <= now - USE_RECORDED_EVERY,
            ),
        )
        .values(last_used_at=now)
    )
    return done.rowcount == 1


def _info(row: Any) -> KeyInfo:
    return KeyInfo(
        key_id=row.key_id,
        name=row.name,
        scopes=tuple(sorted(row.scopes.split())),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


_SHOWN = (
    api_keys.c.key_id,
    api_keys.c.name,
    api_keys.c.scopes,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.expires_at,
    api_keys.c.revoked_at,
)


def list_keys(uow: UnitOfWork) -> list[KeyInfo]:
    """Every key ever made, oldest first, revoked and expired ones included (the
    ledger and timelines still name them)."""
    rows = uow.connection.execute(
        select(*_SHOWN).order_by(api_keys.c.created_at, api_keys.c.key_id)
    ).all()
    return [_info(r) for r in rows]


def get_key(uow: UnitOfWork, key_id: str) -> KeyInfo:
    row = uow.connection.execute(select(*_SHOWN).where(api_keys.c.key_id == key_id)).first()
    if row is None:
        raise NotFound(f"no key with the id '{key_id[:40]}'", code="unknown_key")
    return _info(row)


def revoke_key(uow: UnitOfWork, key_id: str, *, now: datetime) -> tuple[KeyInfo, bool]:
    """Revoke a key for good; the answer says whether this call revoked it.

    Revoking a revoked key changes nothing (its first revocation time stays), so a
    retried revocation is safe. The row is kept: the ledger names keys by id.
    """
    found = get_key(uow, key_id)
    if found.revoked_at is not None:
        return found, False
    uow.connection.execute(
        update(api_keys)
        .where(api_keys.c.key_id == found.key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return get_key(uow, found.key_id), True


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
