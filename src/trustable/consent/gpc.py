"""Global Privacy Control: the browser's opt-out of sale, sharing and targeted
advertising, honoured wherever a request carries `Sec-GPC: 1` (collection, the portal).

Kept beside `consent.service`, whose state changes it records through: the signal is
one more way a choice reaches a customer's consent, with its own precedence
(docs/consent.md, "GPC and a banner").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select

from trustable.consent.service import ConsentMethod, ConsentStatus, state_choices
from trustable.consent.tables import consent_records, consent_state
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

# What the signal opts out of, by data use (and its descendants).
GPC_PURPOSES = ("marketing.advertising", "third_party_sharing")
GPC_LAST_UPDATE = "2026-11-23"


def gpc_purposes(policy: Policy) -> list[str]:
    """The policy's purposes that a GPC signal opts out of."""
    return [
        key
        for key in policy.purposes
        if any(key == root or key.startswith(root + ".") for root in GPC_PURPOSES)
    ]


def honour_gpc(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    customer_ids: Iterable[str],
    *,
    now: datetime,
    actor: str,
) -> int:
    """Record, at once, the opt-out a `Sec-GPC: 1` request carries.

    A grant becomes `withdrawn`, an unasked purpose `denied`, method `gpc`; what is
    already refused stays as it is. A later request without the signal changes
    nothing: only the customer's own grant does, and that grant, made through the
    consent API or the portal after the signal was recorded, is their answer to the
    conflict (CCPA regs. § 7025(c)(3)): later signals leave it standing. A banner's or
    TCF string's grant is not such an answer. Returns the records written.
    """
    purposes = gpc_purposes(policy)
    customers = sorted(set(customer_ids))
    standing = _grants_after_gpc(uow, customers, purposes)
    choices = [
        (customer_id, purpose, False, ConsentMethod.gpc)
        for customer_id in customers
        for purpose in purposes
        if (customer_id, purpose) not in standing
    ]
    return state_choices(uow, vault, policy, choices, now=now, actor=actor)


_OWN_ANSWERS = (ConsentMethod.api.value, ConsentMethod.portal.value)


def _grants_after_gpc(
    uow: UnitOfWork, customers: Sequence[str], purposes: Sequence[str]
) -> set[tuple[str, str]]:
    """(customer, purpose) whose current grant, by the consent API or the portal,
    came after a GPC opt-out of the same purpose (a GPC record is only ever a refusal,
    so one in the history of a purpose granted now is older than the grant)."""
    if not customers or not purposes:
        return set()
    granted: set[tuple[str, str]] = {
        (customer_id, purpose)
        for customer_id, purpose in uow.connection.execute(
            select(consent_state.c.customer_id, consent_state.c.purpose).where(
                consent_state.c.customer_id.in_(customers),
                consent_state.c.purpose.in_(purposes),
                consent_state.c.status == ConsentStatus.granted.value,
                consent_state.c.method.in_(_OWN_ANSWERS),
            )
        )
    }
    if not granted:
        return set()
    refused = uow.connection.execute(
        select(consent_records.c.customer_id, consent_records.c.purpose)
        .where(
            consent_records.c.customer_id.in_({c for c, _ in granted}),
            consent_records.c.purpose.in_({p for _, p in granted}),
            consent_records.c.method == ConsentMethod.gpc.value,
        )
        .distinct()
    )
    return granted & {(customer_id, purpose) for customer_id, purpose in refused}
