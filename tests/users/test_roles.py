"""What each role may do in the console, and that anything unknown may do nothing."""

from __future__ import annotations

import pytest

from trustable.users.roles import PERMISSIONS, Permission, Role, can, permissions


def test_only_support_reads_a_customer() -> None:
    assert [r for r in Role if can(r, Permission.customer_read)] == [Role.support]


def test_the_analyst_sees_aggregates_only() -> None:
    assert permissions(Role.analyst) == {Permission.dashboard, Permission.aggregates}


def test_only_the_privacy_officer_acts_on_requests_and_only_the_admin_manages_users() -> None:
    assert [r for r in Role if can(r, "requests.act")] == [Role.privacy_officer]
    assert [r for r in Role if can(r, "users.manage")] == [Role.admin]


def test_only_the_admin_sees_creates_and_revokes_api_keys() -> None:
    assert [r for r in Role if can(r, "keys.manage")] == [Role.admin]


def test_every_role_can_do_something_and_every_permission_belongs_to_someone() -> None:
    assert set(PERMISSIONS) == set(Role)
    assert all(PERMISSIONS[r] for r in Role)
    assert set().union(*PERMISSIONS.values()) == set(Permission)


@pytest.mark.parametrize(
    ("role", "permission"),
    [("root", "dashboard"), ("admin", "everything"), ("", ""), ("ADMIN", "users.manage")],
)
def test_anything_unknown_is_refused(role: str, permission: str) -> None:
    assert can(role, permission) is False


def test_roles_and_permissions_are_their_plain_names() -> None:
    assert can("analyst", "dashboard") and not can("analyst", "customer.read")
    assert permissions("nobody") == frozenset()
