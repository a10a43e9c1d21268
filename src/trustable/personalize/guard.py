"""The trust guard: warnings that protect the customer before an action.

"You already bought this", "you bought this 3 days ago", "you already subscribe":
what a seller would rather not say, said from the customer's own history only. It
runs under the purpose the policy names for it, one that needs no marketing consent
(the example policy: `essential.service`, on contract), because it serves the
customer and not the sale; a customer who restricted their data gets no warnings
rather than a use they did not allow. Rules and wording are the policy's (`guard`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trustable.consent.service import Decisions, decisions_for
from trustable.core.errors import ConfigurationError, InvalidInput
from trustable.events.service import sealed_events
from trustable.ledger import service as ledger
from trustable.policy.schemas import GuardRuleSpec, GuardSpec
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault


@dataclass(frozen=True)
class GuardWarning:
    rule: str
    message: str


@dataclass(frozen=True)
class Guarded:
    customer_id: str
    purpose: str
    action: str
    checked: bool  # False: the customer restricted their data, so nothing was read
    warnings: list[GuardWarning]

    def ledger_record(self, actor: str) -> ledger.Record:
        return ledger.Record(
            kind="guard",
            customer_id=self.customer_id,
            actor=actor,
            detail={
                "purpose": self.purpose,
                "action": self.action,
                "warnings": [w.rule for w in self.warnings],
            },
        )


def guard_of(policy: Policy) -> GuardSpec:
    found = policy.spec.guard
    if found is None:
        raise ConfigurationError("the policy declares no trust guard")
    return found


def items_at(fields: dict[str, Any], path: str) -> list[str]:
    """The values at `path` in an event's fields; `a[].b` reads `b` of each element of
    the list stored at `a`."""
    if "[]" not in path:
        value = fields.get(path)
        return [] if value is None else [str(value)]
    root, _, key = path.partition("[].")
    found = fields.get(root)
    if not isinstance(found, list):
        return []
    return [str(e[key]) for e in found if isinstance(e, dict) and e.get(key) is not None]


def check(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    customer_id: str,
    action: str,
    item: str,
    now: datetime,
) -> Guarded:
    """Every rule of this action that the customer's history triggers, in order."""
    spec = guard_of(policy)
    rules = [r for r in spec.rules if r.action == action]
    if not rules:
        known = sorted({r.action for r in spec.rules})
        raise InvalidInput(
            f"unknown action '{action}': the guard knows {', '.join(known)}", code="unknown_action"
        )
    if not item or len(item) > 200:
        raise InvalidInput("item must be 1 to 200 characters", code="invalid_item")
    decisions = decisions_for(uow, policy, [customer_id])
    if spec.purpose not in decisions.permitted(customer_id):
        return Guarded(customer_id, spec.purpose, action, False, [])
    names = {r.event for r in rules} | {r.cancelled_by for r in rules if r.cancelled_by}
    events = _history(uow, vault, policy, spec, decisions, customer_id, names)
    warnings = []
    for rule in rules:
        last = _last_time(rule, events, item)
        if last is None:
            continue
        days = (now - last).days
        if rule.within_days is not None and days > rule.within_days:
            continue
        message = rule.say.format(date=last.date().isoformat(), days=days)
        warnings.append(GuardWarning(rule.name, message))
    return Guarded(customer_id, spec.purpose, action, True, warnings)


def _history(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    spec: GuardSpec,
    decisions: Decisions,
    customer_id: str,
    names: set[str],
) -> list[tuple[datetime, str, dict[str, Any]]]:
    """The customer's events of these names, oldest first, opened only when the
    guard's purpose uses what they hold."""
    opener = vault.opener(customer_id)
    found = []
    for event in sealed_events(uow, customer_id):
        if event.type != "track":
            continue
        if not any(decisions.may(customer_id, spec.purpose, c) for c in event.categories):
            continue
        fields = event.open_with(opener)
        name = fields.get("event")
        named = policy.name_category(name)
        # The name itself is data: read only where the guard's purpose may use it.
        if name not in names or named is None:
            continue
        if not decisions.may(customer_id, spec.purpose, named):
            continue
        usable = {
            path: value
            for path, value in fields.items()
            if (category := policy.category_of(path)) is not None
            and decisions.may(customer_id, spec.purpose, category)
        }
        found.append((event.occurred_at, str(name), usable))
    return found


def _last_time(
    rule: GuardRuleSpec, events: list[tuple[datetime, str, dict[str, Any]]], item: str
) -> datetime | None:
    """When the rule's event last happened for this item, unless undone since."""
    last: datetime | None = None
    for at, name, fields in events:
        if item not in items_at(fields, rule.item):
            continue
        if name == rule.event:
            last = at
        elif rule.cancelled_by is not None and name == rule.cancelled_by:
            last = None
    return last


def log_guard(uow: UnitOfWork, vault: Vault, found: Guarded, *, actor: str, now: datetime) -> None:
    ledger.submit(uow, vault, [found.ledger_record(actor)], now=now)
