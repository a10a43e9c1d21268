"""The portal's sign-in links, and what the portal shows a customer of their own.

A company signs its customer in by asking Trustable for a link (`issue_link`): a
random token, valid for minutes and once, kept only as a keyed hash. Everything
else here reads, for the customer who is signed in and no one else: what is held
about them grouped by category with the purposes that use it, their choices, and
every ledger entry about them in plain words.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from trustable.consent.service import (
    ConsentMethod,
    PurposeConsent,
    restricted_among,
)
from trustable.core.errors import NotAuthenticated
from trustable.events.service import event_counts, sealed_events, sealed_traits
from trustable.identity.service import customer_exists, list_identifiers
from trustable.ledger import service as ledger
from trustable.ledger.service import PendingEntry, StoredEntry
from trustable.policy.service import Policy
from trustable.portal.tables import portal_links
from trustable.storage.bulk import delete_customer_rows
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

LINK_PREFIX = "pl_"
LINK_TTL = timedelta(minutes=10)
MAX_LINK_TTL = timedelta(hours=1)
RECENT_EVENTS = 20


class LinkRejected(NotAuthenticated):
    """The same answer for a link that is unknown, expired or already used."""

    code = "invalid_link"


def _hash(vault: Vault, token: str) -> str:
    return vault.blind_index("portal_link", token)


def issue_link(
    uow: UnitOfWork,
    vault: Vault,
    customer_id: str,
    *,
    actor: str,
    now: datetime,
    ttl: timedelta = LINK_TTL,
) -> tuple[str, datetime]:
    """A one-time sign-in token for this customer; it is never stored, only its hash."""
    if not timedelta(0) < ttl <= MAX_LINK_TTL:
        raise ValueError("a link lives between a second and an hour")
    token = LINK_PREFIX + secrets.token_urlsafe(32)
    expires = now + ttl
    uow.connection.execute(
        portal_links.insert(),
        [
            {
                "link_hash": _hash(vault, token),
                "customer_id": customer_id,
                "created_at": now,
                "expires_at": expires,
                "issued_by": actor,
            }
        ],
    )
    ledger.submit(
        uow,
        vault,
        [ledger.Record(kind="portal_link", customer_id=customer_id, actor=actor)],
        now=now,
    )
    return token, expires


def redeem_link(uow: UnitOfWork, vault: Vault, token: str, *, now: datetime) -> str:
    """The customer a link signs in, once: it is spent here. Same error for every
    failure, so a guesser learns nothing."""
    rejected = LinkRejected("this sign-in link is not valid: ask for a new one")
    if not token.startswith(LINK_PREFIX) or len(token) > 128:
        raise rejected
    digest = _hash(vault, token)
    row = uow.connection.execute(
        select(portal_links).where(portal_links.c.link_hash == digest)
    ).first()
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise rejected
    spent = uow.connection.execute(
        update(portal_links)
        .where(portal_links.c.link_hash == digest, portal_links.c.used_at.is_(None))
        .values(used_at=now)
    )
    live = customer_exists(uow, row.customer_id)
    if spent.rowcount != 1 or live is None:
        raise rejected
    return live


def sweep_links(uow: UnitOfWork, now: datetime) -> int:
    """Remove links past their time, used or not."""
    done = uow.connection.execute(delete(portal_links).where(portal_links.c.expires_at <= now))
    return int(done.rowcount or 0)


def erase_links(uow: UnitOfWork, customer_id: str) -> int:
    return delete_customer_rows(uow, customer_id, {"links": portal_links})["links"]


# -- what the portal shows --------------------------------------------------------


_MESSAGES = {
    "identify": "details about you",
    "track": "an action of yours on the shop",
    "page": "a page view",
    "screen": "a screen view in the app",
    "group": "the company or team you belong to",
    "alias": "a link between two of your ids",
}


def what_it_was(message_type: str, name: str | None = None) -> str:
    """A message told in words, as the object of a sentence: "a page view", "an
    action of yours on the shop (“Order Completed”)". `name` is the event's name when
    it was kept; without it, the message is described by what it is."""
    said = _MESSAGES.get(message_type, f"a message ({message_type})")
    return f"{said} (“{name}”)" if name else said


_ASKED_FOR = {
    "access": "to see your data",
    "export": "for a copy of your data",
    "rectify": "to correct your data",
    "erase": "to erase your data",
    "restrict": "to limit the use of your data",
    "object": "to stop a use of your data",
}
_BECAME = {
    "received": "was received",
    "verified": "was confirmed",
    "processing": "is being carried out",
    "done": "was carried out",
    "refused": "was refused",
}
# A sign-in by mailed code is an access request answered by showing the portal: told
# as the sign-in it was, step by step.
_SIGN_IN = {
    "received": "You asked for a code by email to sign in here",
    "verified": "You entered the code we mailed you",
    "processing": "You entered the code we mailed you",
    "done": "You signed in here with a code we mailed you",
    "refused": "A sign-in here was refused",
}


def what_became_of(kind: str, state: str, channel: object = None) -> str:
    """A request's step told as a sentence: "Your request to erase your data was
    carried out"; a portal sign-in (`channel` sign_in) as the sign-in it is."""
    if channel == "sign_in" and state in _SIGN_IN:
        return _SIGN_IN[state]
    asked = _ASKED_FOR.get(kind, f"({kind})")
    return f"Your request {asked} {_BECAME.get(state, f'is now {state}')}"


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


@dataclass(frozen=True)
class HeldValue:
    label: str  # the identifier kind, trait name or event name
    value: Any
    at: datetime | None


@dataclass(frozen=True)
class HeldCategory:
    category: str
    name: str
    purposes: list[tuple[str, bool]]  # (plain name of a purpose using it, permitted now)
    values: list[HeldValue]


@dataclass(frozen=True)
class Holdings:
    identifiers: list[HeldValue]
    categories: list[HeldCategory]
    restricted: bool
    traits: list[str]  # the names of the traits held: what a correction can name
    trait_labels: list[str]  # the kinds of detail held, in the policy's words
    events: dict[str, int]  # every event held, counted by message type

    def summary(self) -> str:
        """The opening sentence of "What we hold": how much of what kind, in plain
        words; the details follow it on the page."""
        held = []
        if self.trait_labels:
            n = len(self.traits)
            held.append(
                f"{n} detail{'s' if n != 1 else ''} about you "
                f"({_listed([_lower(t) for t in self.trait_labels])})"
            )
        done = [
            _counted(self.events[kind], *_COUNTED[kind])
            for kind in _COUNTED
            if self.events.get(kind)
        ]
        if done:
            held.append(_listed(done))
        n = len(self.identifiers)
        if n:
            held.append(f"{n} id{'s' if n != 1 else ''} you are known by")
        if not held:
            return "We hold nothing about you at the moment."
        return f"We hold {_listed(held)}."

    def uses(self) -> str:
        """What it serves now, and what would use it but is turned off."""
        now: dict[str, None] = {}
        off: dict[str, None] = {}
        for category in self.categories:
            for name, allowed in category.purposes:
                (now if allowed else off)[name] = None
        stopped = [f"“{name}”" for name in off if name not in now]
        said = [f"It is used for {_listed([f'“{n}”' for n in now])}." if now else ""]
        if stopped:
            it = "would use it too" if now else "would use it"
            off_now = "is" if len(stopped) == 1 else "are"
            said.append(f"{_listed(stopped)} {it}, but {off_now} off for you.")
        return " ".join(s for s in said if s)


_COUNTED = {
    "track": ("action on the shop", "actions on the shop"),
    "page": ("page view", "page views"),
    "screen": ("screen view in the app", "screen views in the app"),
    "identify": ("update of your details", "updates of your details"),
    "group": ("company or team", "companies or teams"),
    "alias": ("link between your ids", "links between your ids"),
}


def _counted(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _listed(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


_IDENTIFIER_CATEGORY = {
    "email": "user.contact.email",
    "phone": "user.contact.phone_number",
    "device_id": "user.device.device_id",
}


def holdings(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    customer_id: str,
    current: Sequence[PurposeConsent],
) -> Holdings:
    """Identifiers, traits and recent events, grouped by category, each category with
    the purposes that use it and whether each may now (`current`: the customer's
    consents as `current_consents` gives them)."""
    consents = {c.purpose: c for c in current}
    grouped: dict[str, list[HeldValue]] = {}
    traits = sealed_traits(uow, customer_id)
    for trait in traits:
        grouped.setdefault(trait.category, []).append(
            HeldValue(trait.name, trait.open(vault, customer_id), trait.updated_at)
        )
    opener = vault.opener(customer_id)
    for event in sealed_events(uow, customer_id, limit=RECENT_EVENTS, newest_first=True):
        fields = event.open_with(opener)
        name = fields.get("event")
        label = str(name) if isinstance(name, str) else _upper(what_it_was(event.type))
        # Each field under its own category: an identify call's email is contact data,
        # its age demographic, each shown with the purposes that use that kind.
        parts: dict[str, dict[str, Any]] = {}
        for path, value in fields.items():
            category = policy.field_category(path, value)
            if category is not None:
                parts.setdefault(category, {})[path.rsplit(".", 1)[-1]] = value
        for category, shown in parts.items():
            grouped.setdefault(category, []).append(HeldValue(label, shown, event.occurred_at))
    identifiers = [
        HeldValue(kind, value, None) for kind, value in list_identifiers(uow, vault, customer_id)
    ]

    def purposes(category: str) -> list[tuple[str, bool]]:
        return [
            (policy.purposes[p].spec.name, consents[p].permitted)
            for p in policy.purposes_using(category)
            if p in consents
        ]

    categories = [
        HeldCategory(category, policy.category_label(category), purposes(category), values)
        for category, values in sorted(grouped.items())
        if category
    ]
    return Holdings(
        identifiers,
        categories,
        bool(restricted_among(uow, [customer_id])),
        sorted(t.name for t in traits),
        sorted({policy.category_label(t.category) for t in traits}),
        event_counts(uow, customer_id),
    )


@dataclass(frozen=True)
class Choice:
    purpose: str
    name: str
    description: str
    benefit: str
    needs_consent: bool
    consent: PurposeConsent
    gpc: bool  # switched off by the browser's Global Privacy Control


def choices(policy: Policy, consents: Sequence[PurposeConsent]) -> list[Choice]:
    """One switch per purpose, in the policy's order, with its words for customers."""
    out = []
    for found in consents:
        spec = policy.purposes[found.purpose].spec
        out.append(
            Choice(
                found.purpose,
                spec.name,
                spec.description,
                spec.benefit,
                found.needs_consent,
                found,
                gpc=found.method is ConsentMethod.gpc,
            )
        )
    return out


@dataclass(frozen=True)
class Use:
    """One ledger entry about the customer, told in words."""

    index: int | None  # None: being logged, it has no index (nor proof) yet
    at: str
    kind: str
    sentence: str


_LEFT_BECAUSE = {
    "consent": ", as you turned that off",
    "rule_unmet": ": what put you in it no longer holds",
    "segment_removed": ": the group no longer exists",
}
# How a consent choice reached us, told to the customer it is about.
_BY_METHOD = {
    "portal": ", on this page",
    "api": ", by the shop",
    "import": ", from the shop's earlier records",
    "gpc": ", from your browser's privacy signal (Global Privacy Control)",
    "banner": ", in the shop's cookie banner",
    "tcf": ", in the shop's consent banner (TCF)",
    "request": ", by your objection",
}
_DONE_BY = {"portal": "you", "email": "you", "requester": "you"}


def _who(actor: str, names: dict[str, str]) -> str:
    if actor in _DONE_BY:
        return _DONE_BY[actor]
    if actor.startswith("usr_"):
        return "our privacy team"
    if actor in names:
        return f"our service “{names[actor]}”"
    return "Trustable"


def describe(entry: StoredEntry | PendingEntry, policy: Policy, names: dict[str, str]) -> Use:
    """A plain sentence for an entry: who did what with which kind of data."""
    body = entry.content()
    detail: dict[str, Any] = body.get("detail") or {}
    who = _who(str(body.get("actor", "")), names)

    def purpose(key: Any) -> str:
        found = policy.purpose(str(key))
        return f"“{found.spec.name}”" if found else str(key)

    def kinds(keys: Any) -> str:
        listed = [_lower(policy.category_label(str(k))) for k in keys or ()]
        return "; ".join(listed) if listed else "nothing"

    kind = entry.kind
    if kind == "collect":
        kept = detail.get("kept")
        sentence = f"We received {what_it_was(str(detail.get('type', '')))}" + (
            f" and kept: {kinds(kept)}" if kept else ", and kept none of it"
        )
    elif kind == "consent":
        method = str(detail.get("method"))
        sentence = (
            f"Your choice for {purpose(detail.get('purpose'))} was recorded as "
            f"{detail.get('status')}{_BY_METHOD.get(method, f' ({method})')}"
        )
    elif kind == "access" and "segments" in detail:
        sentence = (
            f"{who.capitalize()} looked up the groups you are in "
            f"for {purpose(detail.get('purpose'))}"
        )
    elif kind == "access":
        sentence = (
            f"{who.capitalize()} used your data ({kinds(detail.get('categories'))}) "
            f"for {purpose(detail.get('purpose'))}"
        )
    elif kind == "recommend":
        what = (
            f"your data ({kinds(detail.get('categories'))})"
            if detail.get("personal")
            else "no data of yours"
        )
        sentence = f"{who.capitalize()} made recommendations for you using {what}"
    elif kind == "guard":
        sentence = f"{who.capitalize()} checked your history to warn you before an action"
    elif kind == "share":
        sentence = (
            f"Your data ({kinds(detail.get('categories'))}) went to "
            f"“{detail.get('destination', 'a partner')}”"
        )
    elif kind == "export":
        sentence = "A copy of everything we hold about you was downloaded"
    elif kind == "request":
        sentence = what_became_of(
            str(detail.get("type", "")), str(detail.get("state", "")), detail.get("channel")
        )
    elif kind == "merge":
        sentence = "Two of your histories were joined into one"
    elif kind == "rectify":
        sentence = "A value you asked us to correct was corrected"
    elif kind == "retention":
        sentence = "Data older than we promised to keep it was deleted"
    elif kind == "portal_link":
        sentence = f"{who.capitalize()} asked for a sign-in link to this page for you"
    elif kind == "unlink":
        sentence = f"You unlinked an identifier ({detail.get('kind', '')}) from your history"
    elif kind == "incident_notice":
        told = {
            "sent": "told you by email",
            "failed": "could not reach you by email (the message was not delivered)",
        }.get(str(detail.get("state")), "had no address to tell you")
        involved = kinds(detail.get("categories"))
        sentence = f"A security incident involved your data ({involved}); we {told}"
    elif kind == "restriction_lifted":
        sentence = "The restriction on using your data was lifted"
    elif kind == "segment":
        group = policy.spec.segments.get(str(detail.get("segment")))
        used = " and ".join(purpose(p) for p in detail.get("purposes") or ()) or "nothing now"
        if detail.get("change") == "joined":
            told = f": {group.description.rstrip('.')}" if group else ""
            sentence = f"You joined a group used for {used}{told}"
        else:
            why = _LEFT_BECAUSE.get(str(detail.get("because")), "")
            sentence = f"You left a group used for {used}{why}"
    elif kind == "aggregate":
        sentence = (
            "An analyst counted customers in groups of at least "
            f"{detail.get('k', 10)}: only totals, never you"
        )
    else:
        sentence = f"Recorded: {kind.replace('_', ' ')}"
    index = entry.index if isinstance(entry, StoredEntry) else None
    return Use(index, str(body.get("at", "")), kind, sentence)
