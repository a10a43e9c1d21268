"""A small shop's customers, consents and events, sent through collection itself."""

from __future__ import annotations

import random
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from trustable.access.service import create_key
from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentMethod, ConsentStatus, record_for_identifiers
from trustable.core.errors import InvalidInput
from trustable.core.settings import Settings
from trustable.demo.history import seed_history
from trustable.destinations.worker import Worker
from trustable.events.segment import parse_batch
from trustable.events.service import ingest
from trustable.identity.service import count_customers

PERSONALIZE = "personalize.content.profiled"
EMAIL = "marketing.communications.email"
ANALYTICS = "analytics.reporting"
ADS = "marketing.advertising.third_party.targeted"

# (user id, name, email, zip, purposes granted)
SHOP_CUSTOMERS: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    ("u-1001", "Ada Lovelace", "ada@example.org", "10115", (PERSONALIZE, EMAIL, ANALYTICS)),
    ("u-1002", "Grace Hopper", "grace@example.org", "94043", (PERSONALIZE,)),
    ("u-1003", "Alan Turing", "alan@example.org", "02139", ()),
    ("u-1004", "Katherine Johnson", "katherine@example.org", "23666", (ANALYTICS,)),
    ("u-1005", "Edsger Dijkstra", "edsger@example.org", "78712", (EMAIL, ADS)),
    ("u-1006", "Barbara Liskov", "barbara@example.org", "02142", (PERSONALIZE, ANALYTICS, ADS)),
    ("u-1007", "Donald Knuth", "donald@example.org", "94305", ()),
    ("u-1008", "Frances Allen", "frances@example.org", "10598", (PERSONALIZE, EMAIL)),
]
PRODUCTS = [("sku-1", "Notebook", 12.5), ("sku-2", "Fountain pen", 48.0), ("sku-3", "Ink", 9.9)]
# The shop streams films too: two tastes, and each customer's ratings (film, stars).
FILMS = {
    "f-1": "Toy Story", "f-2": "Up", "f-3": "Coco", "f-4": "Inside Out", "f-5": "Ratatouille",
    "f-6": "WALL-E", "f-7": "Alien", "f-8": "Blade Runner", "f-9": "The Matrix",
    "f-10": "Arrival", "f-11": "Dune", "f-12": "Gattaca",
}  # fmt: skip
# The films' genres, as MovieLens names them: what the policy's `sci-fi-fans` segment
# reads (Barbara rated five science-fiction films 4 stars or more).
SCI_FI = {"f-7", "f-8", "f-9", "f-10", "f-11", "f-12"}
RATINGS: dict[str, list[tuple[str, int]]] = {
    "u-1001": [("f-1", 5), ("f-2", 5), ("f-3", 4), ("f-7", 2)],
    "u-1002": [("f-1", 5), ("f-2", 4), ("f-4", 5), ("f-5", 4), ("f-6", 4)],
    "u-1003": [("f-7", 5), ("f-11", 4), ("f-1", 3)],
    "u-1004": [("f-10", 5), ("f-12", 5)],
    "u-1005": [("f-8", 4), ("f-9", 5)],
    "u-1006": [("f-7", 5), ("f-8", 5), ("f-9", 4), ("f-10", 5), ("f-12", 4)],
    "u-1007": [("f-2", 4), ("f-6", 5)],
    "u-1008": [("f-3", 5), ("f-4", 4), ("f-6", 5), ("f-2", 5), ("f-1", 4), ("f-5", 5)],
}


@dataclass(frozen=True)
class Seeded:
    write_key: str  # public: what a web page or app ships to every visitor
    server_key: str  # secret: the shop's backend, a trusted source
    customers: int
    already: bool


def _message(kind: str, user_id: str, ts: str, **body: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "userId": user_id,
        "anonymousId": None,
        "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{user_id}:{kind}:{ts}:{body}")),
        "timestamp": ts,
        "context": {
            "ip": "203.0.113.7",
            "library": {"name": "analytics-python", "version": "2.4.0"},
            "page": {"url": "https://demo-shop.example/"},
        },
        **body,
    }


def shop_messages(base_day: str = "2026-11-01") -> list[dict[str, Any]]:
    """Identify, page views and orders for each demo customer, Segment-shaped."""
    out: list[dict[str, Any]] = []
    for n, (user_id, name, email, zip_code, _) in enumerate(SHOP_CUSTOMERS):
        first, last = name.split(" ", 1)
        ts = f"{base_day}T09:{n:02d}:00+00:00"
        out.append(
            _message(
                "identify",
                user_id,
                ts,
                traits={
                    "email": email,
                    "firstName": first,
                    "lastName": last,
                    "zip": zip_code,
                    "favouriteColour": "blue",
                },
            )
        )
        sku, product, price = PRODUCTS[n % len(PRODUCTS)]
        out.append(
            _message(
                "page",
                user_id,
                f"{base_day}T10:{n:02d}:00+00:00",
                name=product,
                properties={"path": f"/p/{sku}"},
            )
        )
        out.append(
            _message(
                "track",
                user_id,
                f"{base_day}T11:{n:02d}:00+00:00",
                event="Order Completed",
                properties={
                    "order_id": f"o-{n}",
                    "products": [{"sku": sku, "price": price}],
                    "total": price,
                    "currency": "EUR",
                    "coupon": "WELCOME",
                },
            )
        )
    for user_id, rated in RATINGS.items():
        for n, (film, stars) in enumerate(rated):
            out.append(
                _message(
                    "track",
                    user_id,
                    f"{base_day}T20:{n:02d}:00+00:00",
                    event="Movie Rated",
                    properties={
                        "movie_id": film,
                        "title": FILMS[film],
                        "rating": stars,
                        "genres": ["Sci-Fi"] if film in SCI_FI else ["Animation"],
                    },
                )
            )
    return out


def seed_demo(
    trustable: Trustable,
    *,
    customers: int = 1000,
    seed: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> Seeded:
    """Seed once (the named customers, then 90 days of the shop's life: see
    `demo.history`), deliver what the policy's destinations are owed, then make new
    write keys for this run, a public one and the backend's: only their hashes are
    stored, so old ones cannot be shown. A store that holds customers is reused."""
    now = trustable.clock()
    with trustable.uow() as uow:
        _key, write_key = create_key(
            uow,
            trustable.policy,
            name=f"demo web write key {now:%Y-%m-%d %H:%M}",
            scopes=["collect"],
            now=now,
        )
        _key, server_key = create_key(
            uow,
            trustable.policy,
            name=f"demo backend write key {now:%Y-%m-%d %H:%M}",
            scopes=["collect:server"],
            now=now,
        )
        existing = count_customers(uow)
        uow.commit()
    if existing > 0:
        return Seeded(write_key, server_key, customers=existing, already=True)
    with trustable.uow() as uow:
        for user_id, *_rest, granted in SHOP_CUSTOMERS:
            for purpose in (PERSONALIZE, EMAIL, ANALYTICS, ADS):
                record_for_identifiers(
                    uow,
                    trustable.vault,
                    trustable.policy,
                    idents=[("user_id", user_id)],
                    purpose=purpose,
                    status=ConsentStatus.granted if purpose in granted else ConsentStatus.denied,
                    method=ConsentMethod.import_,
                    now=now - timedelta(days=30),
                    actor="demo",
                )
        yesterday = f"{now - timedelta(days=1):%Y-%m-%d}"
        batch = parse_batch({"batch": shop_messages(yesterday)}, single_type=None, received_at=now)
        # The demo shop's own backend: a trusted source, so its customers' emails are
        # contacts they can sign in to the portal with.
        ingest(
            uow,
            trustable.vault,
            trustable.policy,
            batch.messages,
            now=now,
            actor="demo",
            trusted=True,
        )
        uow.commit()
    steps = 0

    def advance(done: int, total: int) -> None:
        """The history's steps, and one more for the deliveries after it."""
        nonlocal steps
        steps = total + 1
        if progress:
            progress(done, steps)

    if customers:  # none: the eight named customers alone (a small shop, for tests)
        seed_history(trustable, customers=customers, seed=seed, progress=advance)
    deliver(trustable)
    if progress and steps:
        progress(steps, steps)
    with trustable.reader() as uow:
        held = count_customers(uow)
    return Seeded(write_key, server_key, customers=held, already=False)


def deliver(trustable: Trustable) -> None:
    """What the seed owes the policy's destinations, sent now by the real worker (the
    demo's warehouse answers), so the demo starts with no queue behind it."""
    if not trustable.policy.spec.destinations:
        return
    worker = Worker(trustable, rng=random.Random(0), batch=500)
    try:
        worker.run_once()
    finally:
        worker.close()


def reset_demo(settings: Settings) -> None:
    """`trustable demo --reset`: delete the demo's home (its SQLite stores, master key
    and mail), so the next seed starts from nothing. Only a store kept in that home
    is deleted: a database elsewhere (PostgreSQL) is not the demo's to drop."""
    home = settings.home.resolve()
    for url in (settings.database_url, settings.keystore_url):
        if not url.startswith("sqlite:///") or not _inside(Path(url[10:]), home):
            raise InvalidInput(
                "--reset deletes only a demo kept in TRUSTABLE_HOME (SQLite); "
                "drop this database yourself"
            )
    if home.exists():
        shutil.rmtree(home)


def _inside(path: Path, home: Path) -> bool:
    return path.resolve().is_relative_to(home)


def explain(console: Console, trustable: Trustable, seeded: Seeded, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    key = seeded.server_key
    state = "already seeded" if seeded.already else "seeded"
    console.print(
        f"[bold]Trustable demo[/] ({state}: {seeded.customers} customers) "
        f"— data in {trustable.settings.home}/"
    )
    console.print(f"  API docs:     {url}/docs")
    console.print(
        f"  Web write key:     {seeded.write_key}  (public: for web pages and apps; what it "
        "sends never says who someone is)",
        soft_wrap=True,
    )
    console.print(
        f"  Server write key:  {key}  (secret: for the shop's backend, which knows who is "
        "signed in; its emails become contacts)",
        soft_wrap=True,
    )
    console.print(
        "  Send events from the backend with Segment's Python SDK "
        "(pip install segment-analytics-python):"
    )
    console.print(
        "    import segment.analytics as analytics\n"
        f"    analytics.write_key = '{key}'; analytics.host = '{url}'\n"
        "    analytics.identify('u-1', {'email': 'you@example.org'}); analytics.flush()",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"  Or curl:      curl -u '{key}:' {url}/v1/track -H 'Content-Type: "
        'application/json\' -d \'{"userId":"u-1","event":"Signed In",'
        '"messageId":"m-1"}\'',
        highlight=False,
        soft_wrap=True,
    )
    console.print("  See drops:    .venv/bin/trustable collection drops")
    show_recommendations(console, trustable)
    show_portal(console, trustable, trustable.settings.public_url or url)
    show_console(console, trustable, trustable.settings.public_url or url)
    show_mail(console, trustable)


DEMO_ADMIN = "admin"
# The privacy officer records incidents, approves and sends notices: with this account a
# simulated breach of the demo shop is walked through from the console.
DEMO_OFFICER = "officer"
# The analyst asks for aggregates: about a thousand customers, so most groups are
# above k and answered, and a narrow one is refused with its reason.
DEMO_ANALYST = "analyst"


def show_console(console: Console, trustable: Trustable, url: str) -> None:
    """The console's demo accounts, each with a password made for this run (the last
    one stops working: a demo password printed to a terminal should not live on)."""
    for username, role, does in (
        (DEMO_ADMIN, "admin", ""),
        (DEMO_OFFICER, "privacy_officer", "; incidents and notices"),
        (DEMO_ANALYST, "analyst", "; aggregates only"),
    ):
        password = demo_account(trustable, username, role)
        console.print(
            f"  Console:      {url}/admin  user {username}, password {password} "
            f"(new each run{does})",
            highlight=False,
            soft_wrap=True,
        )


def show_mail(console: Console, trustable: Trustable) -> None:
    """Where the demo's mail goes (verification codes, incident notices)."""
    mail = trustable.settings.mail
    if mail.smtp_host:
        where = f"sent through {mail.smtp_host}:{mail.smtp_port}"
    else:
        where = f"written to {mail.pickup_dir}/ as .eml files (TRUSTABLE_SMTP_HOST sends it)"
    console.print(f"  Mail:         {where}", highlight=False, soft_wrap=True)


def demo_account(trustable: Trustable, username: str, role: str) -> str:
    """Create the account, or give it a new password; the password."""
    import secrets

    from trustable.core.errors import NotFound
    from trustable.users.service import create_user, get_user, set_password

    password = secrets.token_urlsafe(12)
    with trustable.uow() as uow:
        now = trustable.clock()
        try:
            get_user(uow, username)
        except NotFound:
            create_user(
                uow,
                trustable.vault,
                username=username,
                password=password,
                role=role,
                now=now,
                actor="demo",
            )
        else:
            set_password(uow, trustable.vault, username, password, now=now, actor="demo")
        uow.commit()
    return password


def show_portal(console: Console, trustable: Trustable, url: str) -> None:
    """A one-time link into Ada's privacy portal, as the shop's backend would ask."""
    from datetime import timedelta

    from trustable.identity.service import find_customer
    from trustable.portal.service import issue_link

    with trustable.uow() as uow:
        customer = find_customer(uow, trustable.vault, "user_id", "u-1001")
        if customer is None:
            return
        token, _ = issue_link(
            uow,
            trustable.vault,
            customer,
            actor="demo",
            now=trustable.clock(),
            ttl=timedelta(hours=1),
        )
        uow.commit()
    console.print(
        f"  Ada's privacy portal (one use, for an hour): {url}/portal/enter?token={token}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "    Another link: .venv/bin/trustable portal link --user-id u-1001", highlight=False
    )


def show_recommendations(console: Console, trustable: Trustable) -> None:
    """What the recommendations API answers for a customer who allows personalization
    and for one who declined (each read logged, as the API logs it)."""
    from trustable.identity.service import find_customer
    from trustable.personalize.runner import personalization
    from trustable.personalize.service import log_recommendations, recommend

    model = personalization(trustable).recommender()
    for user_id, who in (
        ("u-1001", "Ada, who allows personalization"),
        ("u-1003", "Alan, who declined"),
    ):
        with trustable.reader() as uow:
            customer = find_customer(uow, trustable.vault, "user_id", user_id)
            if customer is None:
                continue
            found = recommend(
                uow, trustable.vault, trustable.policy, model, customer_id=customer, n=3
            )
        with trustable.uow() as uow:
            log_recommendations(uow, trustable.vault, found, actor="demo", now=trustable.clock())
            uow.commit()
        console.print(f"  Recommended for {who}:")
        for item in found.items:
            reason = f" — {'; '.join(item.reasons)}" if item.reasons else ""
            console.print(f"    {item.title}{reason}", highlight=False)
        if found.note:
            console.print(f"    ({found.note})", highlight=False)
