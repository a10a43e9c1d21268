"""Purpose-bound reads: a customer's data, for one declared purpose, as they allow it now.

A read returns a trait or an event field only when the purpose uses its category
AND `may(customer, purpose, category)` says yes at this moment; nothing else is even
decrypted. What was held back is listed by category and reason, never with a value.
Every read leaves a ledger entry, committed before the data is handed out; the
gathering itself runs in a read-only unit, so reads never queue behind each other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from trustable.access.service import ApiKey
from trustable.consent.service import decisions_for
from trustable.core.errors import Forbidden, InvalidInput
from trustable.events.service import sealed_events, sealed_traits
from trustable.ledger import service as ledger
from trustable.policy.service import Policy, Purpose
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

MAX_EVENTS = 1000


class Reason(StrEnum):
    not_used = "purpose_does_not_use_it"
    not_permitted = "customer_has_not_permitted_it"
    undeclared = "not_in_tracking_plan"


@dataclass(frozen=True)
class Withheld:
    category: str
    reason: Reason
    count: int


@dataclass(slots=True)  # a read makes a thousand: slots, and orjson writes it as is
class ProfileEvent:
    type: str
    occurred_at: datetime
    fields: dict[str, Any]


@dataclass(frozen=True)
class Profile:
    customer_id: str
    purpose: str
    traits: dict[str, Any]
    events: list[ProfileEvent]
    withheld: list[Withheld]
    categories: tuple[str, ...]  # what was returned

    def ledger_record(self, actor: str) -> ledger.Record:
        """The `access` entry that must commit before this profile is handed out."""
        return ledger.Record(
            kind="access",
            customer_id=self.customer_id,
            actor=actor,
            detail={
                "purpose": self.purpose,
                "categories": list(self.categories),
                "withheld": sorted({w.category for w in self.withheld}),
                "traits": len(self.traits),
                "events": len(self.events),
            },
        )


def purpose_for(key: ApiKey, policy: Policy, purpose: str) -> Purpose:
    """The purpose a read names, if it exists and this key may read for it.

    Only `read:<purpose>` opens a read: not even `admin` reads personal data without
    naming why.
    """
    found = policy.purpose(purpose)
    if found is None:
        raise InvalidInput(f"unknown purpose '{purpose}'", code="unknown_purpose")
    if f"read:{purpose}" not in key.scopes:
        raise Forbidden(
            f"this key may not read for the purpose '{purpose}'",
            code="purpose_not_allowed",
            key_id=key.key_id,
        )
    return found


def read_profile(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    customer_id: str,
    purpose: Purpose,
    limit: int = MAX_EVENTS,
) -> Profile:
    """Gather the profile in a read; `log_read` must commit its entry before it leaves."""
    if not 0 < limit <= MAX_EVENTS:
        raise InvalidInput(f"limit must be between 1 and {MAX_EVENTS}", code="invalid_limit")
    decisions = decisions_for(uow, policy, [customer_id])
    withheld: Counter[tuple[str, Reason]] = Counter()
    returned: set[str] = set()
    # Decided once per category, per event's set of categories and per set of field
    # paths: a read of a thousand events asks the same few questions thousands of times.
    verdicts: dict[str, Reason | None] = {}

    def verdict(category: str) -> Reason | None:
        if category not in verdicts:
            found: Reason | None = None
            if not purpose.uses(category):
                found = Reason.not_used
            elif not decisions.may(customer_id, purpose.key, category):
                found = Reason.not_permitted
            verdicts[category] = found
        return verdicts[category]

    def held_back(category: str | None) -> tuple[str, Reason] | None:
        """Why a value of `category` stays out (category, reason); None: it goes out."""
        if category is None:
            return ("(undeclared)", Reason.undeclared)
        reason = verdict(category)
        return None if reason is None else (category, reason)

    traits: dict[str, Any] = {}
    for trait in sealed_traits(uow, customer_id):
        why = held_back(trait.category)
        if why is None:
            traits[trait.name] = trait.open(vault, customer_id)
            returned.add(trait.category)
        else:
            withheld[why] += 1

    def plan(shape: tuple[str, ...]) -> tuple[tuple[str, ...], list[tuple[str, Reason]]]:
        """For events with these field paths: which go out, and why the rest do not."""
        kept: list[str] = []
        held: list[tuple[str, Reason]] = []
        for path in shape:
            category = policy.category_of(path)
            why = held_back(category)
            if why is None and category is not None:
                kept.append(path)
                returned.add(category)
            elif why is not None:
                held.append(why)
        return tuple(kept), held

    opener = vault.opener(customer_id)
    plans: dict[tuple[str, ...], tuple[tuple[str, ...], list[tuple[str, Reason]]]] = {}
    names: dict[Any, tuple[str, Reason] | None] = {}  # an event name's verdict
    shapes: Counter[tuple[str, ...]] = Counter()  # events opened, by their field paths
    wanted_sets: dict[tuple[str, ...], bool] = {}
    events: list[ProfileEvent] = []
    for event in sealed_events(uow, customer_id, limit=limit, newest_first=True):
        wanted = wanted_sets.get(event.categories)
        if wanted is None:
            wanted = any(verdict(c) is None for c in event.categories)
            wanted_sets[event.categories] = wanted
        if not wanted:  # nothing of it may go out: count why, leave it sealed
            for category in event.categories:
                why = held_back(category)
                if why is not None:
                    withheld[why] += 1
            continue
        opened = event.open_with(opener)
        name = opened.pop("event", None)  # judged by its own category, not its path's
        shape = tuple(opened)
        found = plans.get(shape)
        if found is None:
            found = plans[shape] = plan(shape)
        shapes[shape] += 1
        kept = found[0]
        if len(kept) == len(shape):
            fields = opened
        else:
            fields = {path: opened[path] for path in kept}
        if name is not None:
            if name in names:
                why = names[name]
            else:
                named = policy.field_category("event", name)
                why = names[name] = held_back(named)
                if why is None:
                    returned.add(str(named))
            if why is None:
                fields["event"] = name  # `fields` is this event's own dict: no copy
            else:
                withheld[why] += 1
        if fields:
            events.append(ProfileEvent(event.type, event.occurred_at, fields))
    for shape, uses in shapes.items():
        for why in plans[shape][1]:
            withheld[why] += uses

    held = [Withheld(c, r, n) for (c, r), n in sorted(withheld.items())]
    return Profile(customer_id, purpose.key, traits, events, held, tuple(sorted(returned)))


def log_read(uow: UnitOfWork, vault: Vault, profile: Profile, *, actor: str, now: datetime) -> None:
    """Append the read's ledger entry (the caller commits, then hands the data out)."""
    ledger.submit(uow, vault, [profile.ledger_record(actor)], now=now)
