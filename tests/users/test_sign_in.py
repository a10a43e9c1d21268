"""Signing in: the right password opens the account, guessing is slowed per
(username, address) and per address so a stranger cannot keep the owner out, and
neither an answer nor its time tells whether a username exists."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from tests.users.support import PASSWORD, T0, account_entries, make_user, sign_in
from trustable.bootstrap import Trustable
from trustable.core.clock import FixedClock
from trustable.users import passwords, service, throttle
from trustable.users.service import (
    AccountDisabled,
    InvalidCredentials,
    SignInRefused,
    SignInThrottled,
    disable_user,
    enable_user,
    get_user,
)
from trustable.users.tables import console_users, sign_in_failures
from trustable.users.throttle import ADDRESS_LIMIT, BLOCK_FOR, PAIR_LIMIT, WINDOW

OWNER = "198.51.100.7"
STRANGER = "203.0.113.66"


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


def failure_rows(app: Trustable) -> list[tuple[object, ...]]:
    with app.reader() as uow:
        return [tuple(r) for r in uow.connection.execute(select(sign_in_failures)).all()]


def test_the_right_password_signs_in_and_a_wrong_one_is_refused(app: Trustable) -> None:
    make_user(app, "Ada")
    user = sign_in(app, "ada", PASSWORD, now=T0 + timedelta(hours=1))
    assert user.username == "ada" and user.last_sign_in_at == T0 + timedelta(hours=1)
    with pytest.raises(InvalidCredentials, match="wrong username or password"):
        sign_in(app, "ada", PASSWORD.upper())
    with pytest.raises(InvalidCredentials):
        sign_in(app, "ada", PASSWORD[:-1])
    assert sign_in(app, "ADA", PASSWORD).username == "ada"


def test_the_same_password_typed_in_another_unicode_form_is_the_same(app: Trustable) -> None:
    composed = "caf\u00e9 au lait, s'il vous pla\u00eet"
    decomposed = "cafe\u0301 au lait, s'il vous plai\u0302t"
    make_user(app, password=composed)
    assert sign_in(app, "ada", decomposed).username == "ada"


def test_failures_of_a_username_from_one_address_block_it_there_and_only_there(
    app: Trustable,
) -> None:
    make_user(app)
    clock = FixedClock(T0)
    for _ in range(PAIR_LIMIT - 1):
        with pytest.raises(InvalidCredentials):
            sign_in(app, "ada", "not the password", now=clock(), address=STRANGER)
        clock.now += timedelta(seconds=5)
    with pytest.raises(SignInThrottled) as blocked:
        sign_in(app, "ada", "not the password", now=clock(), address=STRANGER)
    assert blocked.value.status == 429
    block_ends = clock() + BLOCK_FOR

    # From there, even the right password is refused, and tries do not extend it...
    clock.now = block_ends - timedelta(seconds=1)
    with pytest.raises(SignInThrottled):
        sign_in(app, "ada", PASSWORD, now=clock(), address=STRANGER)
    # ...while the owner, from their own address, signs in all along.
    assert sign_in(app, "ada", PASSWORD, now=clock(), address=OWNER).username == "ada"
    # And other usernames from the stranger's address are not blocked by it.
    with pytest.raises(InvalidCredentials):
        sign_in(app, "grace", "not the password", now=clock(), address=STRANGER)

    clock.now = block_ends
    assert sign_in(app, "ada", PASSWORD, now=clock(), address=STRANGER).username == "ada"
    # An account lock is not a thing any more: nothing about it in the ledger.
    assert [e["detail"]["event"] for e in account_entries(app)] == ["created"]


def test_after_a_block_ends_it_takes_as_many_failures_again(app: Trustable) -> None:
    make_user(app)
    clock = FixedClock(T0)
    for _ in range(2):
        for _ in range(PAIR_LIMIT - 1):
            with pytest.raises(InvalidCredentials):
                sign_in(app, "ada", "not the password", now=clock())
        with pytest.raises(SignInThrottled):
            sign_in(app, "ada", "not the password", now=clock())
        clock.now += BLOCK_FOR


def test_failures_older_than_the_window_are_forgotten(app: Trustable) -> None:
    make_user(app)
    clock = FixedClock(T0)
    for _ in range(PAIR_LIMIT * 3):
        with pytest.raises(InvalidCredentials):
            sign_in(app, "ada", "not the password", now=clock())
        clock.now += WINDOW / (PAIR_LIMIT - 1)
    assert sign_in(app, "ada", PASSWORD, now=clock()).username == "ada"


def test_one_address_walking_through_usernames_is_blocked_for_all_of_them(
    app: Trustable,
) -> None:
    make_user(app)
    for n in range(ADDRESS_LIMIT - 1):
        with pytest.raises(InvalidCredentials):
            sign_in(app, f"user-{n}", "not the password", address=STRANGER)
    with pytest.raises(SignInThrottled):
        sign_in(app, "someone-else", "not the password", address=STRANGER)
    with pytest.raises(SignInThrottled):
        sign_in(app, "ada", PASSWORD, address=STRANGER)
    assert sign_in(app, "ada", PASSWORD, address=OWNER).username == "ada"
    assert sign_in(app, "ada", PASSWORD, now=T0 + BLOCK_FOR, address=STRANGER).username == "ada"


def test_a_success_forgets_the_failures_before_it(app: Trustable) -> None:
    make_user(app)
    for _ in range(3):
        for _ in range(PAIR_LIMIT - 1):
            with pytest.raises(InvalidCredentials):
                sign_in(app, "ada", "not the password")
        sign_in(app, "ada", PASSWORD)


def test_a_refused_sign_in_counts_only_if_the_caller_commits(app: Trustable) -> None:
    """The service never commits: a sign-in page must commit even when refusing."""
    make_user(app)
    with app.uow() as uow, pytest.raises(InvalidCredentials):
        service.authenticate_user(
            uow, app.vault, "ada", "not the password", address=STRANGER, now=T0
        )
    assert failure_rows(app) == []  # rolled back
    with pytest.raises(InvalidCredentials):
        sign_in(app, "ada", "not the password")
    assert len(failure_rows(app)) == 2  # this username from here, and here at all


def test_what_was_tried_and_from_where_is_not_kept_in_clear(app: Trustable) -> None:
    for _ in range(PAIR_LIMIT):
        with pytest.raises(SignInRefused):
            sign_in(app, "Typed-Password-By-Mistake", "x", address=STRANGER)
    kept = repr(failure_rows(app)).lower()
    assert "typed-password" not in kept and STRANGER not in kept


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


def test_real_and_unknown_usernames_are_blocked_alike_and_checked_no_further(
    app: Trustable, hasher: CountingHasher
) -> None:
    make_user(app)
    answers: dict[str, list[tuple[str, str, int]]] = {}
    for name, address in (("ada", "192.0.2.21"), ("grace", "192.0.2.22")):
        answers[name] = []
        for tried in range(2 * PAIR_LIMIT):
            before = hasher.verified
            with pytest.raises(SignInRefused) as refused:
                sign_in(app, name, "not the password", address=address)
            # An attempt is checked against a hash until the block; then never.
            assert hasher.verified == before + (1 if tried < PAIR_LIMIT else 0)
            answer = refused.value
            answers[name].append((answer.code, answer.message, answer.status))
    assert answers["ada"] == answers["grace"]
    assert answers["ada"][PAIR_LIMIT - 1][0] == "too_many_attempts"


def test_a_disabled_account_says_so_only_to_its_password(
    app: Trustable, hasher: CountingHasher
) -> None:
    make_user(app, "grace", role="support")
    make_user(app)
    with app.uow() as uow:
        disable_user(uow, app.vault, "grace", now=T0, actor="cli")
        uow.commit()
    before = hasher.verified
    with pytest.raises(AccountDisabled):
        sign_in(app, "grace", PASSWORD)
    # A wrong password on a disabled account says no more than a wrong password.
    with pytest.raises(InvalidCredentials):
        sign_in(app, "grace", "not the password")
    assert hasher.verified == before + 2


def test_an_enabled_account_signs_in_again_but_its_old_sessions_stay_ended(
    app: Trustable,
) -> None:
    make_user(app, "grace", role="support")
    later = T0 + timedelta(hours=1)
    with app.uow() as uow:
        disable_user(uow, app.vault, "grace", now=T0, actor="cli")
        again = enable_user(uow, app.vault, "grace", now=later, actor="cli")
        twice = enable_user(uow, app.vault, "grace", now=later, actor="cli")
        uow.commit()
    assert not again.disabled and again.role.value == "support" and twice == again
    # The console takes a session only if it began after the last password change.
    assert again.password_changed_at == later
    assert not sign_in(app, "grace", PASSWORD, now=later).disabled
    events = [e["detail"]["event"] for e in account_entries(app)]
    assert events.count("enabled") == 1 and events.index("enabled") > events.index("disabled")


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


def test_counts_that_have_run_out_are_swept(app: Trustable) -> None:
    for _ in range(PAIR_LIMIT):
        with pytest.raises(SignInRefused):
            sign_in(app, "ada", "not the password", address=STRANGER)  # blocked
    with pytest.raises(InvalidCredentials):
        sign_in(app, "grace", "not the password", address=OWNER)
    assert len(failure_rows(app)) == 4  # two pairs, two addresses

    def sweep_at(moment: datetime) -> int:
        with app.uow() as uow:
            done = throttle.sweep(uow, moment)
            uow.commit()
        return done

    assert sweep_at(T0 + WINDOW - timedelta(seconds=1)) == 0
    assert sweep_at(T0 + WINDOW) == 3  # all but the blocked pair: counted, blocking nothing
    assert sweep_at(T0 + BLOCK_FOR + WINDOW) == 1  # the block ended a window ago
    assert failure_rows(app) == []
