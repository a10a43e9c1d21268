"""Console accounts: who may have one, how passwords are kept, what the ledger says."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.users.support import PASSWORD, T0, account_entries, make_user
from trustable.bootstrap import Trustable
from trustable.core.errors import InvalidInput
from trustable.ledger.service import entries_of_kind
from trustable.users.passwords import WeakPassword
from trustable.users.roles import Permission, Role
from trustable.users.service import (
    LastAdmin,
    UnknownUser,
    UsernameTaken,
    disable_user,
    get_user,
    list_users,
    set_password,
    set_role,
)
from trustable.users.tables import console_users


def stored_hash(app: Trustable, user_id: str) -> str:
    with app.reader() as uow:
        return str(
            uow.connection.execute(
                select(console_users.c.password_hash).where(console_users.c.user_id == user_id)
            ).scalar_one()
        )


def test_a_password_is_kept_only_as_an_argon2id_hash_with_owasps_parameters(
    app: Trustable,
) -> None:
    ada = make_user(app)
    assert ada.user_id.startswith("usr_") and len(ada.user_id) == 24
    digest = stored_hash(app, ada.user_id)
    assert digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in digest
    # Two accounts with one password get different hashes (a salt each).
    grace = make_user(app, "grace")
    assert stored_hash(app, grace.user_id) != digest


def test_the_id_is_random_and_the_username_is_compared_without_case(app: Trustable) -> None:
    ada = make_user(app, "Ada.Lovelace")
    assert ada.username == "ada.lovelace"
    assert "ada" not in ada.user_id.removeprefix("usr_")
    with pytest.raises(UsernameTaken):
        make_user(app, "ADA.LOVELACE")
    with app.reader() as uow:
        assert get_user(uow, "Ada.Lovelace") == get_user(uow, ada.user_id) == ada
        with pytest.raises(UnknownUser):
            get_user(uow, "grace")


@pytest.mark.parametrize("username", ["a", "ada lovelace", "<script>", "usr_" + "0" * 20, ""])
def test_a_username_that_could_confuse_is_refused(app: Trustable, username: str) -> None:
    with pytest.raises(InvalidInput, match="a username is 2 to 64 characters"):
        make_user(app, username)


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short pass1", "at least 12 characters"),
        (" " * 16, "more than spaces"),
        ("Margaret.Hamilton", "not the username"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_a_weak_password_is_refused_saying_which_rule_without_repeating_it(
    app: Trustable, password: str, rule: str
) -> None:
    with pytest.raises(WeakPassword, match=rule) as refused:
        make_user(app, "margaret.hamilton", password=password)
    assert not password.strip() or password.strip() not in refused.value.message
    with app.reader() as uow:
        assert list_users(uow) == []


def test_an_unknown_role_is_refused_naming_the_roles(app: Trustable) -> None:
    with pytest.raises(InvalidInput, match="unknown role 'root': use admin, privacy_officer"):
        make_user(app, role="root")


def test_every_change_is_in_the_ledger_by_id_never_by_username(app: Trustable) -> None:
    make_user(app, "root.admin", role="admin")
    ada = make_user(app, "ada.lovelace", role="analyst")
    with app.uow() as uow:
        set_role(uow, app.vault, "ada.lovelace", Role.support, now=T0, actor="cli")
        set_password(uow, app.vault, ada.user_id, "another long passphrase", now=T0, actor="cli")
        disable_user(uow, app.vault, "ada.lovelace", now=T0, actor="cli")
        uow.commit()
    mine = [e["detail"] for e in account_entries(app) if e["detail"]["user"] == ada.user_id]
    assert mine == [
        {"user": ada.user_id, "event": "created", "role": "analyst"},
        {"user": ada.user_id, "event": "role_changed", "role": "support", "previous": "analyst"},
        {"user": ada.user_id, "event": "password_set"},
        {"user": ada.user_id, "event": "disabled"},
    ]
    with app.reader() as uow:  # sequenced by `account_entries` above
        bodies = b"".join(e.body for e in entries_of_kind(uow, "console_user"))
    assert b"lovelace" not in bodies and b"root.admin" not in bodies
    assert b"argon2" not in bodies and b"passphrase" not in bodies
    assert all(e["subject"] is None and e["actor"] == "cli" for e in account_entries(app))


def test_a_disabled_account_can_do_nothing_and_disabling_twice_logs_once(app: Trustable) -> None:
    make_user(app, "root", role="admin")
    ada = make_user(app, role="privacy_officer")
    assert ada.can(Permission.requests_act)
    with app.uow() as uow:
        disabled = disable_user(uow, app.vault, "ada", now=T0, actor="cli")
        again = disable_user(uow, app.vault, "ada", now=T0, actor="cli")
        uow.commit()
    assert disabled.disabled and again == disabled
    assert not any(disabled.can(p) for p in Permission)
    assert [e["detail"]["event"] for e in account_entries(app)].count("disabled") == 1
    with app.reader() as uow:
        assert [u.username for u in list_users(uow, include_disabled=False)] == ["root"]
        assert [u.username for u in list_users(uow)] == ["ada", "root"]


def test_the_last_enabled_admin_can_be_neither_disabled_nor_demoted(app: Trustable) -> None:
    make_user(app, "root", role="admin")
    with app.uow() as uow, pytest.raises(LastAdmin):
        disable_user(uow, app.vault, "root", now=T0, actor="cli")
    with app.uow() as uow, pytest.raises(LastAdmin):
        set_role(uow, app.vault, "root", "analyst", now=T0, actor="cli")
    make_user(app, "second", role="admin")
    with app.uow() as uow:
        assert disable_user(uow, app.vault, "root", now=T0, actor="cli").disabled
        uow.commit()


def test_a_new_password_follows_the_rules(app: Trustable) -> None:
    from datetime import timedelta

    ada = make_user(app)
    later = T0 + timedelta(days=1)
    with app.uow() as uow:
        with pytest.raises(WeakPassword):
            set_password(uow, app.vault, "ada", "ada", now=later, actor="cli")
        changed = set_password(
            uow, app.vault, "ada", "a brand new passphrase", now=later, actor="cli"
        )
        uow.commit()
    assert changed.password_changed_at == later > ada.password_changed_at
    assert stored_hash(app, ada.user_id).startswith("$argon2id$")


def test_what_the_console_shows_of_an_account_holds_no_hash_and_forms_hide_passwords(
    app: Trustable,
) -> None:
    from trustable.users.schemas import SignInIn, UserOut

    shown = UserOut.of(make_user(app, role="analyst"), T0).model_dump_json()
    assert "argon2" not in shown and PASSWORD not in shown
    assert '"permissions":["aggregates","dashboard"]' in shown
    form = SignInIn(username="ada", password=PASSWORD)
    assert PASSWORD not in repr(form) and PASSWORD not in form.model_dump_json()
