"""Reading what an aggregate may count: consented customers' declared fields, opened
in memory and never written anywhere.

Only customers who permit the analytics purpose now are read (a withdrawn or
restricted customer is not counted, from the moment of the decision), and only those
known through more than a public key: a trusted source named them or they proved a
contact. Anyone can make up customers through a web page's write key; were those
counted, a writer could fill a group up to k around one real person and subtract
(docs/analytics.md). Of them, only
the fields the query names, and only when the purpose may use their category for
that customer. Rows are people in no meaningful order, with no id of any kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from sqlalchemy import select

from trustable.consent.service import Decisions, decisions_for
from trustable.events.service import open_payload
from trustable.events.tables import events, traits
from trustable.identity.contacts import vouched_customers
from trustable.identity.service import customers_after
from trustable.policy.service import Policy
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import KeyMissing, Vault

CUSTOMERS_PER_CHUNK = 500


@dataclass(slots=True)
class Seen:
    """One event of a person, as much of it as the query needs."""

    day: date
    name: str | None  # a track event's name, when the purpose may use it
    fields: dict[str, Any]  # `properties.*` paths the query names


@dataclass(slots=True)
class Person:
    traits: dict[str, Any]  # `traits.*` paths the query names
    events: list[Seen]  # oldest first; empty when the query needs none


@dataclass
class Population:
    """The customers an aggregate may count, and how many were left out and why."""

    people: list[Person] = field(default_factory=list)
    scanned: int = 0
    not_permitted: int = 0
    not_vouched: int = 0  # known only through a public key
    skipped_no_key: int = 0


def gather(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    *,
    purpose: str,
    trait_fields: Sequence[str],
    event_fields: Sequence[str],
    with_events: bool,
) -> Population:
    """Every customer permitting `purpose`, with the named fields it may use for them."""
    found = Population()
    names = sorted({path[len("traits.") :] for path in trait_fields})
    after = ""
    while True:
        chunk = customers_after(uow, after, CUSTOMERS_PER_CHUNK)
        if not chunk:
            break
        decisions = decisions_for(uow, policy, chunk)
        permitting = [c for c in chunk if purpose in decisions.permitted(c)]
        vouched = vouched_customers(uow, permitting)
        allowed = [c for c in permitting if c in vouched]
        found.scanned += len(chunk)
        found.not_permitted += len(chunk) - len(permitting)
        found.not_vouched += len(permitting) - len(allowed)
        if allowed:
            _read(uow, vault, policy, decisions, purpose, allowed, names, event_fields,
                  with_events, found)  # fmt: skip
        if len(chunk) < CUSTOMERS_PER_CHUNK:
            break
        after = chunk[-1]
    return found


def _read(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    decisions: Decisions,
    purpose: str,
    chunk: list[str],
    names: list[str],
    event_fields: Sequence[str],
    with_events: bool,
    found: Population,
) -> None:
    sealed: dict[str, list[tuple[str, str, bytes]]] = {c: [] for c in chunk}
    if names:
        rows = uow.connection.execute(
            select(traits.c.customer_id, traits.c.name, traits.c.category, traits.c.value).where(
                traits.c.customer_id.in_(chunk), traits.c.name.in_(names)
            )
        )
        for customer_id, name, category, value in rows:
            sealed[customer_id].append((name, category, value))
    stored: dict[str, list[tuple[str, Any, str, bytes]]] = {c: [] for c in chunk}
    if with_events:
        listed = uow.connection.execute(
            select(
                events.c.customer_id,
                events.c.message_id,
                events.c.occurred_at,
                events.c.categories,
                events.c.payload,
            )
            .where(events.c.customer_id.in_(chunk))
            .order_by(events.c.customer_id, events.c.occurred_at, events.c.id)
        )
        for customer_id, message_id, occurred_at, categories, payload in listed:
            stored[customer_id].append((message_id, occurred_at, categories, payload))
    field_categories = {path: policy.category_of(path) for path in event_fields}
    vault.load_keys(chunk)
    for customer_id in chunk:

        def may(category: str | None, customer_id: str = customer_id) -> bool:
            return category is not None and decisions.may(customer_id, purpose, category)

        try:
            opener = vault.opener(customer_id)
            person = Person({}, [])
            for name, category, value in sealed[customer_id]:
                if may(category):
                    person.traits["traits." + name] = orjson.loads(opener("trait:" + name, value))
            for message_id, occurred_at, categories, payload in stored[customer_id]:
                if not any(may(c) for c in categories.split()):
                    continue  # nothing in it is data the purpose may use: not counted
                opened = open_payload(opener, message_id, payload)
                name = opened.get("event")
                kept_name = (
                    name if isinstance(name, str) and may(policy.name_category(name)) else None
                )
                fields = {
                    path: opened[path]
                    for path, category in field_categories.items()
                    if path in opened and may(category)
                }
                person.events.append(Seen(occurred_at.date(), kept_name, fields))
        except KeyMissing:
            found.skipped_no_key += 1  # erased while this ran: nothing left to count
            continue
        found.people.append(person)
