"""Who in the privacy team may do what in the console: the one place it is decided.

| permission      | admin | privacy_officer | analyst | support |
| --------------- | :---: | :-------------: | :-----: | :-----: |
| `dashboard`     |   ✓   |        ✓        |    ✓    |         |
| `aggregates`    |   ✓   |        ✓        |    ✓    |         |
| `policy.view`   |   ✓   |        ✓        |         |    ✓    |
| `requests.view` |   ✓   |        ✓        |         |    ✓    |
| `requests.act`  |       |        ✓        |         |         |
| `customer.read` |       |                 |         |    ✓    |
| `incidents.view`|   ✓   |        ✓        |         |         |
| `incidents.act` |       |        ✓        |         |         |
| `users.manage`  |   ✓   |                 |         |         |
| `keys.manage`   |   ✓   |                 |         |         |

Why this way:
- Only `support` reads one customer's data, and only for a purpose the reader states,
  which the read's ledger entry records (`access`). Nobody else sees a person: the
  analyst and the dashboard see counts, the privacy officer works requests by id.
- The admin runs accounts and API keys, not customers: an admin who wants to read a
  customer must give themselves the support role first, and that change is in the
  ledger too.
- The privacy officer alone acts on requests (refuse, process, lift a restriction),
  so every decision on a customer's rights is taken by the people answerable for it.
  The same holds for a breach: the privacy officer records incidents, approves and
  sends notices and the regulator's report; the admin may follow them.

Anything unknown (a role or permission not listed) is refused: the console fails
closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    privacy_officer = "privacy_officer"
    analyst = "analyst"  # aggregates only
    support = "support"  # reads a customer for a stated purpose, logged


class Permission(StrEnum):
    dashboard = "dashboard"  # the trust dashboard's figures and charts
    aggregates = "aggregates"  # counts across customers, never one customer
    policy_view = "policy.view"  # the policy: purposes, categories, destinations
    requests_view = "requests.view"  # the queue of requests: ids, kinds, states, dates
    requests_act = "requests.act"  # refuse, process, resume, lift a restriction
    customer_read = "customer.read"  # one customer's data, for a stated purpose (logged)
    users_manage = "users.manage"  # create, disable, change roles and passwords
    keys_manage = "keys.manage"  # see, create and revoke API keys
    incidents_view = "incidents.view"  # incidents, their affected counts, notices, report
    incidents_act = "incidents.act"  # record an incident, approve and send its notices


PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.admin: frozenset(
        {
            Permission.dashboard,
            Permission.aggregates,
            Permission.policy_view,
            Permission.requests_view,
            Permission.users_manage,
            Permission.keys_manage,
            Permission.incidents_view,
        }
    ),
    Role.privacy_officer: frozenset(
        {
            Permission.dashboard,
            Permission.aggregates,
            Permission.policy_view,
            Permission.requests_view,
            Permission.requests_act,
            Permission.incidents_view,
            Permission.incidents_act,
        }
    ),
    Role.analyst: frozenset({Permission.dashboard, Permission.aggregates}),
    Role.support: frozenset(
        {Permission.customer_read, Permission.policy_view, Permission.requests_view}
    ),
}


def can(role: Role | str, permission: Permission | str) -> bool:
    """Whether `role` holds `permission`; False for anything unknown (fail closed)."""
    try:
        return Permission(permission) in PERMISSIONS[Role(role)]
    except (ValueError, KeyError):
        return False


def permissions(role: Role | str) -> frozenset[Permission]:
    """Every permission of a role (none for an unknown one)."""
    try:
        return PERMISSIONS[Role(role)]
    except (ValueError, KeyError):
        return frozenset()
