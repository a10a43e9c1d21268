"""Ninety days of a demo shop, generated and sent through the same services as real
traffic, so every console chart and every analytics answer has something to show.

A fresh clone has no data set beside it, so the shop is made up here, from one seed:
the same seed gives the same shop. Customers arrive over the 90 days (more towards
the end, as a shop grows); each one answers the consent banner on arrival (the
choices travel inside their first events, as a Segment banner sends them), some
change their mind later, browse, rate films and buy. Each day is one batch through
`events.service.ingest` under that day's clock, one unit of work per day, so records,
ledger entries and received times all lie in the past and end now. Rights requests,
a closed incident and deliveries to a demo destination are added through their own
services, dated the same way.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trustable.bootstrap import Trustable
from trustable.events.segment import parse_batch
from trustable.events.service import ingest
from trustable.identity.service import find_customer
from trustable.incidents.report import submit_report
from trustable.incidents.service import record_incident
from trustable.ledger.sequencer import flush
from trustable.rights.rectify import correction_detail
from trustable.rights.service import Channel, Kind, State, move, open_request
from trustable.segments.service import refresh

# How customers file requests (a portal sign-in is one too, but is not counted as filed).
FILED_THROUGH = [Channel.api, Channel.email, Channel.portal]
DAYS = 90
ACTOR = "demo"
# The banner's choices (Segment categoryPreferences keys of the shipped policy) and
# how often a new customer says yes to each: most accept statistics, few ads.
BANNER = {"Analytics": 0.72, "Personalization": 0.6, "Email": 0.38, "Advertising": 0.22}
WITHDRAW = 0.12  # the share of granted choices withdrawn later
PRODUCTS = [
    ("sku-1", "Notebook", 12.5), ("sku-2", "Fountain pen", 48.0), ("sku-3", "Ink", 9.9),
    ("sku-4", "Desk lamp", 39.0), ("sku-5", "Pencil case", 7.5), ("sku-6", "Planner", 21.0),
]  # fmt: skip
FILMS = [
    ("f-1", "Toy Story", "Animation"), ("f-2", "Up", "Animation"),
    ("f-3", "Coco", "Animation"), ("f-4", "Inside Out", "Animation"),
    ("f-5", "Ratatouille", "Animation"), ("f-6", "WALL-E", "Animation"),
    ("f-7", "Alien", "Sci-Fi"), ("f-8", "Blade Runner", "Sci-Fi"),
    ("f-9", "The Matrix", "Sci-Fi"), ("f-10", "Arrival", "Sci-Fi"),
    ("f-11", "Dune", "Sci-Fi"), ("f-12", "Gattaca", "Sci-Fi"),
]  # fmt: skip
FIRST = ["Alex", "Sam", "Kim", "Noor", "Lena", "Omar", "Ines", "Jonas", "Mia", "Theo", "Yara"]
LAST = ["Berg", "Costa", "Dahl", "Ek", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowal"]


@dataclass(frozen=True)
class History:
    customers: int
    events: int
    requests: int
    incidents: int


def _mid(customer: int, kind: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-history:{customer}:{kind}:{n}"))


def _message(
    kind: str, number: int, n: int, at: datetime, **body: Any
) -> tuple[datetime, dict[str, Any]]:
    context: dict[str, Any] = {
        "ip": f"198.51.100.{number % 250 + 1}",
        "userAgent": "Mozilla/5.0 (demo)",
        "timezone": "Europe/Berlin",
        "library": {"name": "analytics.js", "version": "4.1.0"},
    }
    context.update(body.pop("context", {}))
    return at, {
        "type": kind,
        "userId": f"c-{number:05d}",
        "messageId": _mid(number, kind, n),
        "timestamp": at.isoformat(),
        "context": context,
        **body,
    }


def _customer(
    rng: random.Random, number: int, start: datetime, now: datetime
) -> list[tuple[datetime, dict[str, Any]]]:
    """One customer's whole history, as the messages their visits sent."""
    # Arrivals grow over the 90 days: the square root skews them towards the end.
    arrived = start + timedelta(seconds=(now - start).total_seconds() * rng.random() ** 0.7)
    arrived = min(arrived, now - timedelta(hours=1))
    span = (now - arrived).total_seconds()

    def later(share: float) -> datetime:
        return arrived + timedelta(seconds=span * share)

    choices = {name: rng.random() < p for name, p in BANNER.items()}
    first, last = rng.choice(FIRST), rng.choice(LAST)
    out: list[tuple[datetime, dict[str, Any]]] = []
    n = 0

    def add(kind: str, at: datetime, **body: Any) -> None:
        nonlocal n
        n += 1
        out.append(_message(kind, number, n, min(at, now - timedelta(minutes=1)), **body))

    banner = {"consent": {"categoryPreferences": dict(choices)}}
    add(
        "identify",
        arrived,
        context=banner,
        traits={
            "email": f"c-{number:05d}@customers.example",
            "firstName": first,
            "lastName": last,
            "zip": f"{rng.randint(1, 9)}{rng.randint(0, 9999):04d}",
            "age": rng.randint(18, 79),
            "gender": rng.choice("FFMM") if rng.random() < 0.92 else "X",
        },
    )
    sci_fi = rng.random() < 0.3
    visits = 1 + int(rng.random() * min(12, 1 + span / 86400 / 6))
    for visit in range(visits):
        at = later(rng.random() if visit else 0.0) + timedelta(minutes=2)
        sku, product, price = rng.choice(PRODUCTS)
        add("page", at, name=product, properties={"path": f"/p/{sku}"})
        add(
            "track",
            at + timedelta(minutes=1),
            event="Product Viewed",
            properties={"sku": sku, "price": price},
        )
        if rng.random() < 0.35:
            quantity = rng.randint(1, 3)
            add(
                "track",
                at + timedelta(minutes=4),
                event="Order Completed",
                properties={
                    "order_id": f"o-{number}-{visit}",
                    "products": [{"sku": sku, "price": price, "quantity": quantity}],
                    "total": round(price * quantity, 2),
                    "currency": "EUR",
                },
            )
    films = [f for f in FILMS if f[2] == "Sci-Fi"] if sci_fi else FILMS
    for film, title, genre in rng.sample(films, rng.randint(5, 6) if sci_fi else rng.randint(0, 4)):
        add(
            "track",
            later(rng.random()) + timedelta(minutes=30),
            event="Movie Rated",
            properties={
                "movie_id": film,
                "title": title,
                "rating": rng.randint(4, 5) if sci_fi else rng.randint(1, 5),
                "genres": [genre],
            },
        )
    # Some change their mind later: the banner again, one choice withdrawn.
    granted = [name for name, yes in choices.items() if yes]
    if granted and rng.random() < WITHDRAW * len(granted):
        withdrawn = dict(choices, **{rng.choice(granted): False})
        add(
            "page",
            later(0.5 + rng.random() / 2),
            name="Privacy settings",
            properties={"path": "/privacy"},
            context={"consent": {"categoryPreferences": withdrawn}},
        )
    return out


def seed_history(
    app: Trustable,
    *,
    customers: int = 1000,
    seed: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> History:
    """Generate and collect the shop's 90 days; `progress(done, total)` per day."""
    rng = random.Random(seed)
    now = app.clock()
    start = now - timedelta(days=DAYS)
    by_day: dict[int, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    for number in range(1, customers + 1):
        for at, message in _customer(rng, number, start, now):
            by_day[min((at - start).days, DAYS - 1)].append((at, message))
    total = DAYS + 2
    events = 0
    for day in range(DAYS):
        batch = sorted(by_day.get(day, ()), key=lambda item: item[0])
        if batch:
            # Received at the end of that day (or now), as a day's batch would be.
            received = min(start + timedelta(days=day + 1), now)
            parsed = parse_batch(
                {"batch": [m for _, m in batch]}, single_type=None, received_at=received
            )
            with app.uow() as uow:
                result = ingest(
                    uow,
                    app.vault,
                    app.policy,
                    parsed.messages,
                    now=received,
                    actor=ACTOR,
                    trusted=True,
                )
                uow.commit()
            events += result.stored
        if progress:
            progress(day + 1, total)
    requests = _requests(app, rng, customers, start, now)
    if progress:
        progress(DAYS + 1, total)
    _incident(app, start, now)
    with app.uow() as uow:
        refresh(uow, app.vault, app.policy, now=now, actor=ACTOR)
        uow.commit()
    flush(app)  # the history in the log, and a head over it for the dashboard to check
    if progress:
        progress(total, total)
    return History(customers=customers, events=events, requests=requests, incidents=1)


def _requests(
    app: Trustable, rng: random.Random, customers: int, start: datetime, now: datetime
) -> int:
    """Requests of every kind, spread over the 90 days: most old ones answered, some
    still open past their due date (what the dashboard's overdue count is for), the
    recent ones open. Only access and export requests are marked done (nothing in
    the data depends on them); the other kinds are refused or left open, since done
    they would have had to change the data."""
    count = max(12, customers // 25)
    made = 0
    with app.uow() as uow:
        for n in range(count):
            kind = list(Kind)[n % len(Kind)]
            number = rng.randint(1, customers)
            customer = find_customer(uow, app.vault, "user_id", f"c-{number:05d}")
            if customer is None:
                continue
            received = start + timedelta(days=rng.uniform(1, DAYS - 0.5))
            received = min(received, now - timedelta(hours=2))
            detail, sealed = _detail(app, kind, customer)
            request = open_request(
                uow,
                app.vault,
                app.policy,
                kind=kind,
                customer_id=customer,
                channel=rng.choice(FILED_THROUGH),
                now=received,
                actor=ACTOR,
                detail=detail,
                sealed=sealed,
            )
            made += 1
            age = (now - received).days
            if rng.random() > (0.85 if age > 30 else 0.4):
                continue
            verified = received + timedelta(hours=rng.uniform(1, 48))
            request = move(uow, app.vault, request, State.verified, actor=ACTOR, now=verified)
            done = min(verified + timedelta(days=rng.uniform(0.2, 20)), now - timedelta(hours=1))
            if kind not in (Kind.access, Kind.export) or rng.random() < 0.1:
                move(uow, app.vault, request, State.refused, actor=ACTOR, now=done,
                     refusal="the request could not be verified")  # fmt: skip
            else:
                move(uow, app.vault, request, State.done, actor=ACTOR, now=done)
        uow.commit()
    return made


def _detail(
    app: Trustable, kind: Kind, customer: str
) -> tuple[dict[str, Any] | None, bytes | None]:
    """What each kind needs beside the customer (`rights.service.check_detail`)."""
    if kind is Kind.rectify:
        return correction_detail(app.vault, app.policy, customer, ("trait", "lastName", "Dahl"))
    if kind is Kind.object:
        return {"purposes": ["marketing.communications.email"]}, None
    return None, None


def _incident(app: Trustable, start: datetime, now: datetime) -> None:
    """A laptop with a copy of the data store lost 40 days ago: sealed data without
    its keys, so low risk (no notice to each customer), reported within 72 hours."""
    found = start + timedelta(days=DAYS - 40)
    with app.uow() as uow:
        incident = record_incident(
            uow,
            app.vault,
            app.policy,
            title="Laptop with a copy of the data store lost on a train",
            discovered_at=found,
            window_start=found - timedelta(days=2),
            window_end=found,
            store="data_store",
            categories=["user.contact.email", "user.behavior.purchase_history"],
            exposed="ciphertext",
            measures="Disk encrypted; the copy holds no keys. Device wiped remotely.",
            actor=ACTOR,
            now=found + timedelta(hours=2),
        )
        submit_report(uow, app.vault, incident, actor=ACTOR, now=found + timedelta(hours=30))
        uow.commit()
