"""Signing in: the right password opens the account, guessing is slowed, and an
answer's time does not tell whether a username exists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from tests.users.support import PASSWORD, T0, account_entries, make_user, sign_in
from trustable.bootstrap import Trustable
from trustable.core.clock import FixedClock
from trustable.users import passwords, service
from trustable.users.service import (
    LOCK_FOR,
    MAX_FAILURES,
    AccountDisabled,
    AccountLocked,
    InvalidCredentials,
    SignInRefused,
    disable_user,
    get_user,
)
from trustable.users.tables import console_users


class CountingHasher(PasswordHasher):
    """The service's hasher, counting the passwords it checks."""

    def __init__(self, **parameters: int) -> None:
        super().__init__(
            **{"time_cost": 2, "memory_cost": 19456, "parallelism": 1, **parameters}  # type: ignore[arg-type]
        )
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(passwords, "HASHER", counting)
    return counting


def test_the_right_password_signs_in_and_a_wrong_one_is_refused(app: Trustable) -> None:
    make_user(app, "Ada")
    user = sign_in(app, "ada", PASSWORD, now=T0 + timedelta(hours=1))
    assert user.username == "ada" and user.last_sign_in_at == T0 + timedelta(hours=1)
    with pytest.raises(InvalidCredentials, match="wrong username or password"):
        sign_in(app, "ada", PASSWORD.upper())
    with pytest.raises(InvalidCredentials):
        sign_in(app, "ada", PASSWORD[:-1])
    with app.reader() as uow:
        assert get_user(uow, "ada").failed_attempts == 2
    # A success forgets the failures before it.
    assert sign_in(app, "ADA", PASSWORD).failed_attempts == 0


def test_the_same_password_typed_in_another_unicode_form_is_the_same(app: Trustable) -> None:
    composed = "caf\u00e9 au lait, s'il vous pla\u00eet"
    decomposed = "cafe\u0301 au lait, s'il vous plai\u0302t"
    make_user(app, password=composed)
    assert sign_in(app, "ada", decomposed).username == "ada"


def test_wrong_passwords_lock_the_account_for_a_while_then_it_opens_again(
    app: Trustable,
) -> None:
    ada = make_user(app)
    clock = FixedClock(T0)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(InvalidCredentials):
            sign_in(app, "ada", "not the password", now=clock())
        clock.now += timedelta(seconds=5)
    with pytest.raises(AccountLocked) as locked:
        sign_in(app, "ada", "not the password", now=clock())
    assert locked.value.until == clock() + LOCK_FOR
    lock_ends = locked.value.until

    # While locked, even the right password is refused, and tries do not extend it.
    clock.now = lock_ends - timedelta(seconds=1)
    with pytest.raises(AccountLocked) as still:
        sign_in(app, "ada", PASSWORD, now=clock())
    assert still.value.until == lock_ends

    clock.now = lock_ends
    user = sign_in(app, "ada", PASSWORD, now=clock())
    assert user.locked_until is None and user.failed_attempts == 0

    (lock,) = [e for e in account_entries(app) if e["detail"]["event"] == "locked"]
    assert lock["actor"] == "sign-in" and lock["subject"] is None
    assert lock["detail"] == {
        "user": ada.user_id,
        "event": "locked",
        "failures": MAX_FAILURES,
        "until": lock_ends.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def test_after_a_lock_ends_it_takes_as_many_failures_again_to_lock(app: Trustable) -> None:
    make_user(app)
    clock = FixedClock(T0)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(InvalidCredentials):
            sign_in(app, "ada", "not the password", now=clock())
    with pytest.raises(AccountLocked):
        sign_in(app, "ada", "not the password", now=clock())
    clock.now += LOCK_FOR
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(InvalidCredentials):
            sign_in(app, "ada", "not the password", now=clock())
    with pytest.raises(AccountLocked):
        sign_in(app, "ada", "not the password", now=clock())
    assert [e["detail"]["event"] for e in account_entries(app)].count("locked") == 2


def test_a_refused_sign_in_counts_only_if_the_caller_commits(app: Trustable) -> None:
    """The service never commits: a sign-in page must commit even when refusing."""
    make_user(app)
    with app.uow() as uow, pytest.raises(InvalidCredentials):
        service.authenticate_user(uow, app.vault, "ada", "not the password", now=T0)
    with app.reader() as uow:
        assert get_user(uow, "ada").failed_attempts == 0  # rolled back
    with pytest.raises(InvalidCredentials):
        sign_in(app, "ada", "not the password")
    with app.reader() as uow:
        assert get_user(uow, "ada").failed_attempts == 1


def test_an_unknown_username_takes_the_same_path_as_a_wrong_password(
    app: Trustable, hasher: CountingHasher
) -> None:
    make_user(app)
    answers: dict[str, SignInRefused] = {}
    with app.reader() as uow:
        ada_id = get_user(uow, "ada").user_id
    for name in ("ada", "grace", "not a username!", ada_id):
        before = hasher.verified
        with pytest.raises(InvalidCredentials) as refused:
            sign_in(app, name, "not the password")
        assert hasher.verified == before + 1, name  # one Argon2id check, whoever it is
        answers[name] = refused.value
    assert {(e.code, e.message, e.status) for e in answers.values()} == {
        ("invalid_credentials", "wrong username or password", 401)
    }
    # Nothing was written for the names that do not exist.
    with app.reader() as uow:
        names = uow.connection.execute(select(console_users.c.username)).scalars().all()
    assert names == ["ada"]


def test_a_locked_or_disabled_account_still_costs_one_hash(
    app: Trustable, hasher: CountingHasher
) -> None:
    make_user(app, "grace", role="support")
    make_user(app)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(InvalidCredentials):
            sign_in(app, "ada", "not the password")
    with pytest.raises(AccountLocked):
        sign_in(app, "ada", "not the password")
    before = hasher.verified
    with pytest.raises(AccountLocked):
        sign_in(app, "ada", PASSWORD)
    assert hasher.verified == before + 1

    with app.uow() as uow:
        disable_user(uow, app.vault, "grace", now=T0, actor="cli")
        uow.commit()
    with pytest.raises(AccountDisabled):
        sign_in(app, "grace", PASSWORD)
    # A wrong password on a disabled account says no more than a wrong password.
    with pytest.raises(InvalidCredentials):
        sign_in(app, "grace", "not the password")
    assert hasher.verified == before + 3


def test_a_hash_made_with_older_parameters_is_redone_at_sign_in(
    app: Trustable, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = passwords.HASHER
    monkeypatch.setattr(passwords, "HASHER", CountingHasher(time_cost=1, memory_cost=8192))
    ada = make_user(app)
    monkeypatch.setattr(passwords, "HASHER", current)

    def stored() -> str:
        with app.reader() as uow:
            return str(
                uow.connection.execute(
                    select(console_users.c.password_hash).where(
                        console_users.c.user_id == ada.user_id
                    )
                ).scalar_one()
            )

    assert stored().startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    user = sign_in(app, "ada", PASSWORD)
    assert stored().startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    # The same password, so sessions opened with it stay valid.
    assert user.password_changed_at == ada.password_changed_at
    assert sign_in(app, "ada", PASSWORD).user_id == ada.user_id
