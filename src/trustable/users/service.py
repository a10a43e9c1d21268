"""Console users: accounts, Argon2id passwords, throttled sign-in, roles.

Passwords are hashed with Argon2id at OWASP's parameters (`passwords`). The
parameters are stored in each hash; when they are raised, a user's hash is redone at
their next sign-in (`check_needs_rehash`).

Guessing is slowed by `users.throttle`: failures are counted per (username, client
address) and per client address, never per account, so a stranger hammering a
username from their address blocks only themselves, and the owner still signs in
from theirs. An unknown username is counted, blocked and answered exactly as a
known one, and costs the same hash, so neither the answer nor its time tells which
usernames exist.

Each account change leaves a ledger entry of kind `console_user` (creation, role
change, new password, disabling). The ledger can never be erased, so it names
a console user by the random `user_id` alone, never the username: who `usr_…` is
stays in `console_users`, which is never deleted from (accounts are disabled). The
actor is who made the change: `cli`, or the acting console user's id.

Services never commit. `authenticate_user` is the exception to watch: a refused
sign-in is still a write (the failure counts), so the caller must commit whether it
succeeds or raises, e.g. `try: … finally: uow.commit()`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from trustable.core.errors import InvalidInput, NotAuthenticated, NotFound, TrustableError
from trustable.core.ids import new_id
from trustable.ledger import service as ledger
from trustable.storage.uow import UnitOfWork
from trustable.users import passwords, throttle
from trustable.users.passwords import check_password, hash_password
from trustable.users.roles import Permission, Role, can
from trustable.users.tables import console_users
from trustable.vault.service import Vault

LEDGER_KIND = "console_user"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
_USER_ID = re.compile(r"^usr_[0-9a-z]{20}$")


class UsernameTaken(TrustableError):
    code = "username_taken"
    status = 409


class UnknownUser(NotFound):
    code = "unknown_user"


class LastAdmin(TrustableError):
    """The change would leave no enabled admin, and so nobody to manage accounts."""

    code = "last_admin"
    status = 409


class SignInRefused(NotAuthenticated):
    """Every refused sign-in. A shell that shows one message for all of them (the
    safe default) catches this; the subclasses say why, for the log and for tests."""

    code = "sign_in_refused"


class InvalidCredentials(SignInRefused):
    code = "invalid_credentials"


class SignInThrottled(SignInRefused):
    """Too many failures for this username from this address, or from this address:
    the same answer whether or not the username exists."""

    code = "too_many_attempts"
    status = 429

    def __init__(self) -> None:
        super().__init__(
            "too many failed sign-ins from your address: wait 15 minutes and try again"
        )


class AccountDisabled(SignInRefused):
    code = "account_disabled"


@dataclass(frozen=True)
class ConsoleUser:
    """An account as the console sees it (the hash never leaves this module)."""

    user_id: str
    username: str
    role: Role
    created_at: datetime
    disabled: bool
    last_sign_in_at: datetime | None
    password_changed_at: datetime

    def can(self, permission: Permission | str) -> bool:
        """What the role allows, and nothing at all once the account is disabled."""
        return not self.disabled and can(self.role, permission)


def _user(row: Any) -> ConsoleUser:
    return ConsoleUser(
        user_id=row.user_id,
        username=row.username,
        role=Role(row.role),
        created_at=row.created_at,
        disabled=bool(row.disabled),
        last_sign_in_at=row.last_sign_in_at,
        password_changed_at=row.password_changed_at,
    )


# -- rules -------------------------------------------------------------------------------


def normalize_username(username: str) -> str:
    """Usernames compare without case or Unicode look-alike forms: `Ada` is `ada`."""
    name = unicodedata.normalize("NFKC", username).strip().lower()
    if not _USERNAME.fullmatch(name) or _USER_ID.fullmatch(name):
        raise InvalidInput(
            "a username is 2 to 64 characters: letters a-z, digits and . _ @ -, "
            "starting with a letter or digit",
            code="invalid_username",
        )
    return name


def parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(
            f"unknown role '{role}': use {', '.join(r.value for r in Role)}",
            code="unknown_role",
        ) from None


# -- reading -------------------------------------------------------------------------------


def _find(uow: UnitOfWork, user: str) -> Any:
    """The row of a user named by username or by id (`usr_…`), or None."""
    column = console_users.c.user_id if _USER_ID.fullmatch(user) else console_users.c.username
    key = user if column is console_users.c.user_id else normalize_username(user)
    return uow.connection.execute(select(console_users).where(column == key)).first()


def get_user(uow: UnitOfWork, user: str) -> ConsoleUser:
    """A user by username or id; `UnknownUser` otherwise."""
    row = _find(uow, user)
    if row is None:
        raise UnknownUser("no such console user")
    return _user(row)


def list_users(uow: UnitOfWork, *, include_disabled: bool = True) -> list[ConsoleUser]:
    """Every account, by username."""
    stmt = select(console_users).order_by(console_users.c.username)
    if not include_disabled:
        stmt = stmt.where(console_users.c.disabled.is_(False))
    return [_user(r) for r in uow.connection.execute(stmt)]


# -- changing ------------------------------------------------------------------------------


def _log(
    uow: UnitOfWork,
    vault: Vault,
    user_id: str,
    event: str,
    *,
    actor: str,
    now: datetime,
    **more: Any,
) -> None:
    ledger.submit(
        uow,
        vault,
        [
            ledger.Record(
                kind=LEDGER_KIND,
                customer_id=None,
                actor=actor,
                detail={"user": user_id, "event": event, **more},
            )
        ],
        now=now,
    )


def create_user(
    uow: UnitOfWork,
    vault: Vault,
    *,
    username: str,
    password: str,
    role: Role | str,
    now: datetime,
    actor: str,
) -> ConsoleUser:
    """A new enabled account, with its ledger entry (id and role, not the name)."""
    name = normalize_username(username)
    wanted = parse_role(role)
    check_password(password, name)
    if _find(uow, name) is not None:
        raise UsernameTaken("that username is taken")
    user_id = new_id("usr")
    values: dict[str, Any] = {
        "user_id": user_id,
        "username": name,
        "password_hash": hash_password(password),
        "role": wanted.value,
        "created_at": now,
        "disabled": False,
        "last_sign_in_at": None,
        "password_changed_at": now,
    }
    try:
        uow.connection.execute(console_users.insert(), [values])
    except IntegrityError:  # the same name, made at the same moment by someone else
        raise UsernameTaken("that username is taken") from None
    _log(uow, vault, user_id, "created", actor=actor, now=now, role=wanted.value)
    return get_user(uow, user_id)


def _set(uow: UnitOfWork, user_id: str, **values: Any) -> None:
    uow.connection.execute(
        update(console_users).where(console_users.c.user_id == user_id).values(**values)
    )


def _check_not_last_admin(uow: UnitOfWork, found: ConsoleUser) -> None:
    if found.role is not Role.admin or found.disabled:
        return
    others = uow.connection.execute(
        select(func.count())
        .select_from(console_users)
        .where(
            console_users.c.role == Role.admin.value,
            console_users.c.disabled.is_(False),
            console_users.c.user_id != found.user_id,
        )
    ).scalar_one()
    if not others:
        raise LastAdmin("this is the last enabled admin: make another admin first")


def set_password(
    uow: UnitOfWork, vault: Vault, user: str, password: str, *, now: datetime, actor: str
) -> ConsoleUser:
    """A new password; sessions opened before it end."""
    found = get_user(uow, user)
    check_password(password, found.username)
    _set(
        uow,
        found.user_id,
        password_hash=hash_password(password),
        password_changed_at=now,
    )
    _log(uow, vault, found.user_id, "password_set", actor=actor, now=now)
    return get_user(uow, found.user_id)


def set_role(
    uow: UnitOfWork, vault: Vault, user: str, role: Role | str, *, now: datetime, actor: str
) -> ConsoleUser:
    """Change a user's role (logged with the role before); the last admin stays one."""
    found = get_user(uow, user)
    wanted = parse_role(role)
    if wanted is found.role:
        return found
    if wanted is not Role.admin:
        _check_not_last_admin(uow, found)
    _set(uow, found.user_id, role=wanted.value)
    _log(
        uow,
        vault,
        found.user_id,
        "role_changed",
        actor=actor,
        now=now,
        role=wanted.value,
        previous=found.role.value,
    )
    return get_user(uow, found.user_id)


def disable_user(
    uow: UnitOfWork, vault: Vault, user: str, *, now: datetime, actor: str
) -> ConsoleUser:
    """Stop an account (kept, so the ledger's ids stay readable; `enable_user` brings it
    back). Disabling one already disabled changes nothing and logs nothing."""
    found = get_user(uow, user)
    if found.disabled:
        return found
    _check_not_last_admin(uow, found)
    _set(uow, found.user_id, disabled=True)
    _log(uow, vault, found.user_id, "disabled", actor=actor, now=now)
    return get_user(uow, found.user_id)


def enable_user(
    uow: UnitOfWork, vault: Vault, user: str, *, now: datetime, actor: str
) -> ConsoleUser:
    """Let a disabled account sign in again, with its role and password as they were.

    Sessions opened before it was disabled stay ended: a session is only good when it
    began after the last password change, and disabling ended every one of them, so
    `password_changed_at` moves to now. Enabling one already enabled logs nothing."""
    found = get_user(uow, user)
    if not found.disabled:
        return found
    _set(uow, found.user_id, disabled=False, password_changed_at=now)
    _log(uow, vault, found.user_id, "enabled", actor=actor, now=now)
    return get_user(uow, found.user_id)


# -- signing in ----------------------------------------------------------------------------


def authenticate_user(
    uow: UnitOfWork,
    vault: Vault,
    username: str,
    password: str,
    *,
    address: str,
    now: datetime,
) -> ConsoleUser:
    """The account these credentials open, or a `SignInRefused` saying why.

    `address` is the client's (the connection's peer). While this username from this
    address, or this address at all, is blocked (`users.throttle`), the attempt is
    refused before anything else, whoever the username names. Otherwise every path
    hashes the password once, an unknown username included, so the answer takes
    about the same time whatever it is. Commit the unit of work even when this
    raises: the failure counts are writes.
    """
    tried = throttle.attempt(vault, username, address)
    if throttle.blocked(uow, tried, now=now):
        raise SignInThrottled()
    try:
        name = normalize_username(username)  # a username only: an id does not sign in
    except InvalidInput:
        name = None  # not even a possible username: refused like an unknown one
    row = None if name is None else _find(uow, name)
    matches = passwords.verify(
        passwords.dummy_hash() if row is None else row.password_hash, password
    )
    if row is None or not matches:
        if throttle.record_failure(uow, tried, now=now):
            raise SignInThrottled()
        raise InvalidCredentials("wrong username or password")
    found = _user(row)
    if found.disabled:
        raise AccountDisabled("this account is disabled")
    throttle.record_success(uow, tried)
    values: dict[str, Any] = {"last_sign_in_at": now}
    if passwords.HASHER.check_needs_rehash(row.password_hash):
        values["password_hash"] = hash_password(password)  # the parameters were raised
    _set(uow, found.user_id, **values)
    return get_user(uow, found.user_id)
