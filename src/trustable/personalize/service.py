"""Recommendations: learned only from customers who allow it, each with its reasons.

The model (`personalize.model`) is made from the likes of the customers who permit
the policy's personalization purpose *now*: `build` reads them from the store, and
`sync` keeps it so: a contributor who withdrew, objected, was restricted or erased
is forgotten exactly, and a customer who granted is added. A read answers from the
customer's own ratings, read fresh, only when they permit the purpose at that
moment; otherwise it answers popular items, marked as not personal, with the
sentence the policy gives about what personalization would use and give.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from trustable.consent.service import Decisions, decisions_for
from trustable.consent.tables import consent_records, consent_state, restrictions
from trustable.core.errors import ConfigurationError, InvalidInput
from trustable.events.service import (
    customers_with_events,
    events_marker,
    open_payload,
    sealed_payloads,
)
from trustable.identity.tables import customers
from trustable.ledger import service as ledger
from trustable.personalize.model import Model
from trustable.policy.schemas import PersonalizationSpec
from trustable.policy.service import Policy
from trustable.rights.tables import rights_requests
from trustable.storage.uow import UnitOfWork
from trustable.vault.service import Vault

MAX_ITEMS = 100
RECENCY = 10.0  # the k-th latest like weighs 1 + e^(-k/RECENCY)


@dataclass(frozen=True)
class Rated:
    item: str
    title: str
    rating: float


def spec_of(policy: Policy) -> PersonalizationSpec:
    found = policy.spec.personalization
    if found is None:
        raise ConfigurationError("the policy declares no personalization")
    return found


def ratings_of(uow: UnitOfWork, vault: Vault, policy: Policy, customer_id: str) -> list[Rated]:
    """The customer's ratings, oldest first, from their stored events."""
    spec = spec_of(policy)
    category = policy.category_of(spec.item)
    opener = vault.opener(customer_id)
    found = []
    for message_id, categories, payload in sealed_payloads(uow, customer_id, kind="track"):
        if category not in categories:
            continue
        fields = open_payload(opener, message_id, payload)
        item, rating = fields.get(spec.item), fields.get(spec.rating)
        if fields.get("event") != spec.event or item is None:
            continue
        if not isinstance(rating, int | float) or isinstance(rating, bool):
            continue
        found.append(Rated(str(item), str(fields.get(spec.title) or item), float(rating)))
    return found


def likes(spec: PersonalizationSpec, rated: list[Rated]) -> dict[str, float]:
    """Liked items, weighted towards the latest likes."""
    weights: dict[str, float] = {}
    liked = [r.item for r in rated if r.rating >= spec.positive]
    for k, item in enumerate(reversed(liked)):
        weights.setdefault(item, 1.0 + math.exp(-k / RECENCY))
    return weights


def permits(policy: Policy, decisions: Decisions, customer_id: str) -> bool:
    spec = spec_of(policy)
    category = policy.category_of(spec.item)
    return category is not None and decisions.may(customer_id, spec.purpose, category)


@dataclass
class Recommender:
    """The model, the titles it knows, and how far it has followed consent changes."""

    model: Model
    titles: dict[str, str]
    seen_record: int  # the last consent record taken into account
    lock: threading.Lock = field(default_factory=threading.Lock)
    marker: tuple[int, ...] = ()  # what `changes_marker` said at the last sync
    checked_at: float = 0.0  # monotonic time of the last full check
    # The consent records of the late window (see LATE_RECORDS) already taken into
    # account: read again each sync, their customers are not checked again.
    handled: set[int] = field(default_factory=set)
    # Ratings of customers read lately, opened, with the marker of their events then
    # and when: a read opens them again when the customer's events changed, or after
    # RATINGS_SECONDS (so what retention trims leaves memory too). Only customers who
    # permit the purpose are kept, and forgetting one drops theirs.
    ratings: OrderedDict[str, tuple[tuple[int, int], float, list[Rated]]] = field(
        default_factory=OrderedDict
    )

    def drop(self, customer_id: str) -> None:
        with self.lock:
            self.ratings.pop(customer_id, None)


# Customers whose opened ratings stay in memory (a few KiB each for a keen rater),
# and for how long: entries older than that are dropped as new ones come in.
RATINGS_KEPT = 2_000
RATINGS_SECONDS = 60.0


FULL_CHECK_SECONDS = 30.0  # re-check every contributor at least this often


# Consent records are numbered when written, not when committed: on PostgreSQL a
# record can commit after a higher-numbered one was already seen. The marker counts
# the records in this many numbers below the latest, and a sync reads candidates from
# there, so such a record still changes the marker and is taken into account.
LATE_RECORDS = 1_000


def changes_marker(uow: UnitOfWork, seen_record: int = 0) -> tuple[int, ...]:
    """Cheap to read (each an indexed range or a small table), and different after
    anything that can change who permits a purpose: a consent record (one committed
    late, too), a restriction made or lifted, a rights request."""
    conn = uow.connection
    recent = max(0, seen_record - LATE_RECORDS)
    return (
        _last_record(uow),
        int(
            conn.execute(
                select(func.count())
                .select_from(consent_records)
                .where(consent_records.c.id > recent)
            ).scalar_one()
        ),
        int(conn.execute(select(func.count()).select_from(restrictions)).scalar_one()),
        int(conn.execute(select(func.count()).select_from(rights_requests)).scalar_one()),
    )


def _candidates(uow: UnitOfWork, policy: Policy) -> Iterator[str]:
    """Customers who may have granted the purpose (all customers if it needs no consent)."""
    spec = spec_of(policy)
    found = policy.purpose(spec.purpose)
    if found is not None and not found.needs_consent:
        yield from uow.connection.execute(select(customers.c.customer_id)).scalars()
        return
    yield from uow.connection.execute(
        select(consent_state.c.customer_id).where(
            consent_state.c.purpose == spec.purpose, consent_state.c.status == "granted"
        )
    ).scalars()


def _recent_records(uow: UnitOfWork, policy: Policy, after: int) -> dict[int, str]:
    """The purpose's consent records numbered above `after`: id -> customer."""
    rows = uow.connection.execute(
        select(consent_records.c.id, consent_records.c.customer_id).where(
            consent_records.c.purpose == spec_of(policy).purpose, consent_records.c.id > after
        )
    )
    return {int(record): customer for record, customer in rows}


def _last_record(uow: UnitOfWork) -> int:
    return int(
        uow.connection.execute(select(consent_records.c.id).order_by(consent_records.c.id.desc()))
        .scalars()
        .first()
        or 0
    )


def build(uow: UnitOfWork, vault: Vault, policy: Policy) -> Recommender:
    """Train from scratch on the likes of everyone who permits the purpose now."""
    spec = spec_of(policy)
    watermark = _last_record(uow)
    wanted = list(_candidates(uow, policy))
    decisions = decisions_for(uow, policy, wanted)
    positives: dict[str, dict[str, float]] = {}
    titles: dict[str, str] = {}
    vault.load_keys(wanted)
    for customer_id in wanted:
        if not permits(policy, decisions, customer_id):
            continue
        rated = ratings_of(uow, vault, policy, customer_id)
        titles.update((r.item, r.title) for r in rated)
        positives[customer_id] = likes(spec, rated)
    model = Model.train(positives, sorted(titles))
    return Recommender(model, titles, watermark)


def sync(uow: UnitOfWork, vault: Vault, policy: Policy, recommender: Recommender) -> int:
    """Bring the model to who permits the purpose now: forget those who no longer do
    (withdrawn, objected, restricted, erased), add those who newly do. The number of
    customers changed."""
    spec = spec_of(policy)
    marker = changes_marker(uow, recommender.seen_record)
    now = time.monotonic()
    if marker == recommender.marker and now - recommender.checked_at < FULL_CHECK_SECONDS:
        return 0  # nothing that could change anyone's permission happened
    watermark = marker[0]
    after = max(0, recommender.seen_record - LATE_RECORDS)
    found = policy.purpose(spec.purpose)
    recent: dict[int, str] = {}
    if watermark <= after:
        fresh: set[str] = set()
    elif found is not None and found.needs_consent:
        # Records already taken into account are read again for a while (they may
        # have committed late), but their customers are not checked again.
        recent = _recent_records(uow, policy, after)
        fresh = {c for record, c in recent.items() if record not in recommender.handled}
    else:
        fresh = set(_candidates(uow, policy))
    with recommender.lock:
        current = set(recommender.model.contributors)
    # Only consent records changed: only the customers they name can have changed.
    # A restriction or a request may concern anyone, and so may the time since the
    # last full check: then everyone is checked.
    everyone = (
        marker[2:] != recommender.marker[2:] or now - recommender.checked_at >= FULL_CHECK_SECONDS
    )
    checked = current | fresh if everyone else fresh
    decisions = decisions_for(uow, policy, checked)
    # Ratings are track events: a newcomer with none has nothing for the model.
    raters = customers_with_events(uow, fresh - current, kind="track")
    changed = 0
    for customer_id in sorted(checked):
        allowed = permits(policy, decisions, customer_id)
        if not allowed and customer_id in current:
            forget(recommender, [customer_id])
            changed += 1
        elif allowed and customer_id in raters:
            rated = ratings_of(uow, vault, policy, customer_id)
            liked = likes(spec, rated)
            with recommender.lock:
                recommender.titles.update((r.item, r.title) for r in rated)
                recommender.model.add(customer_id, liked)
            changed += 1
    recommender.seen_record = watermark
    recommender.handled = set(recent)
    recommender.marker = marker
    if everyone:
        recommender.checked_at = now
    return changed


def forget(recommender: Recommender, customer_ids: list[str]) -> int:
    """Forget these customers at once (erasure, a withdrawal just committed)."""
    with recommender.lock:
        for customer_id in customer_ids:
            recommender.ratings.pop(customer_id, None)
        return sum(recommender.model.forget(c) for c in customer_ids)


def _own_ratings(
    uow: UnitOfWork, vault: Vault, policy: Policy, recommender: Recommender, customer_id: str
) -> list[Rated]:
    """The customer's ratings, from memory when they sent nothing since."""
    marker = events_marker(uow, customer_id)
    now = time.monotonic()
    with recommender.lock:
        cached = recommender.ratings.get(customer_id)
        if cached is not None and cached[0] == marker and now - cached[1] < RATINGS_SECONDS:
            recommender.ratings.move_to_end(customer_id)
            return cached[2]
    rated = ratings_of(uow, vault, policy, customer_id)
    with recommender.lock:
        kept = recommender.ratings
        kept[customer_id] = (marker, now, rated)
        kept.move_to_end(customer_id)
        while len(kept) > RATINGS_KEPT or now - next(iter(kept.values()))[1] >= RATINGS_SECONDS:
            kept.popitem(last=False)
    return rated


# -- reading recommendations -------------------------------------------------------


@dataclass(frozen=True)
class Recommended:
    item: str
    title: str
    score: float
    reasons: list[str]


@dataclass(frozen=True)
class Recommendations:
    customer_id: str
    purpose: str
    personal: bool
    items: list[Recommended]
    note: str | None
    categories: tuple[str, ...]

    def ledger_record(self, actor: str) -> ledger.Record:
        return ledger.Record(
            kind="recommend",
            customer_id=self.customer_id,
            actor=actor,
            detail={
                "purpose": self.purpose,
                "personal": self.personal,
                "items": len(self.items),
                "categories": list(self.categories),
            },
        )


def recommend(
    uow: UnitOfWork,
    vault: Vault,
    policy: Policy,
    recommender: Recommender,
    *,
    customer_id: str,
    n: int,
) -> Recommendations:
    """Personal recommendations with reasons when the customer permits the purpose
    now; popular ones, said to be so, when not. The caller logs and commits."""
    spec = spec_of(policy)
    if not 0 < n <= MAX_ITEMS:
        raise InvalidInput(f"n must be between 1 and {MAX_ITEMS}", code="invalid_n")
    decisions = decisions_for(uow, policy, [customer_id])
    category = policy.category_of(spec.item) or ""
    if permits(policy, decisions, customer_id):
        rated = _own_ratings(uow, vault, policy, recommender, customer_id)
        stars = {r.item: r.rating for r in rated}
        history = likes(spec, rated)
        if history:
            with recommender.lock:
                scored = recommender.model.recommend(history, n, exclude=stars)
                titles = {s.item: recommender.titles.get(s.item, s.item) for s in scored}
            own = {r.item: r.title for r in rated}
            said: dict[str, str] = {}  # one sentence per history item, however often cited

            def reason(item: str) -> str:
                found = said.get(item)
                if found is None:
                    found = said[item] = spec.reason.format(
                        title=own.get(item, item), rating=_stars(stars.get(item))
                    )
                return found

            items = [
                Recommended(s.item, titles[s.item], s.score, [reason(c.item) for c in s.because])
                for s in scored
                if s.score > 0
            ]
            if items:
                return Recommendations(customer_id, spec.purpose, True, items, None, (category,))
        seen = set(stars)
        return _popular(recommender, spec, customer_id, n, seen, personal_ok=True)
    recommender.drop(customer_id)  # nothing of theirs stays in memory either
    return _popular(recommender, spec, customer_id, n, set(), personal_ok=False)


def _stars(rating: float | None) -> str:
    if rating is None:
        return ""
    return str(int(rating)) if float(rating).is_integer() else f"{rating:g}"


def _popular(
    recommender: Recommender,
    spec: PersonalizationSpec,
    customer_id: str,
    n: int,
    seen: set[str],
    *,
    personal_ok: bool,
) -> Recommendations:
    """Items liked by the most contributors; nothing of this customer is used (but,
    when they allow it, what they already rated is left out)."""
    with recommender.lock:
        model = recommender.model
        items: list[str] = []
        for column in model.popular():
            item = model.items[column]
            if item not in seen:
                items.append(item)
                if len(items) == n:
                    break
        titles = {i: recommender.titles.get(i, i) for i in items}
    note = (
        "We do not know enough of your taste yet: these are popular with everyone."
        if personal_ok
        else spec.not_personal
    )
    return Recommendations(
        customer_id,
        spec.purpose,
        False,
        [Recommended(i, titles[i], 0.0, []) for i in items],
        note,
        (),
    )


def log_recommendations(
    uow: UnitOfWork, vault: Vault, found: Recommendations, *, actor: str, now: datetime
) -> None:
    ledger.submit(uow, vault, [found.ledger_record(actor)], now=now)
