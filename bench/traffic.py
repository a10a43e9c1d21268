"""Realistic Segment traffic: what a shop's SDKs send, not a synthetic best case.

A fixed pool of users (each with a stable `userId`, `anonymousId`, device and traits)
sends a mix of identify, track and page calls shaped like segment-analytics-python's.
Most fields are in the example policy's tracking plan, some are not (they must be
dropped and counted), and a small share of messages comes from new anonymous visitors,
who create customers on the hot path as real first visits do. Everything is drawn
from a seeded `random.Random`, so two runs send the same kind of traffic.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

# How the traffic is mixed; the rest of the messages (60%) are track calls.
IDENTIFY_SHARE = 0.10
PAGE_SHARE = 0.30
NEW_VISITOR_SHARE = 0.03

_FIRST = ["Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances", "Tim"]
_LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen"]
_CITIES = [("Berlin", "DE", "10115"), ("Paris", "FR", "75001"), ("Austin", "US", "78712")]
_OCCUPATIONS = ["engineer", "teacher", "nurse", "artist", "student", "lawyer", "retired"]
_PLANS = ["free", "plus", "pro"]
_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
]
_LOCALES = [("en-US", "America/Chicago"), ("de-DE", "Europe/Berlin"), ("fr-FR", "Europe/Paris")]
_PAGES = [
    ("Home", "Shop", "/"),
    ("Product", "Catalog", "/p/notebook"),
    ("Search", "Catalog", "/search"),
    ("Cart", "Checkout", "/cart"),
    ("Films", "Media", "/films"),
]
_PRODUCTS = [(f"sku-{n}", f"Product {n}", round(2.5 + n * 1.75, 2)) for n in range(1, 60)]
_LIBRARY = {"name": "analytics-python", "version": "2.4.0"}


@dataclass(frozen=True)
class User:
    """One person of the pool, with what their devices keep sending."""

    user_id: str
    anonymous_id: str
    device_id: str
    ip: str
    user_agent: str
    locale: str
    timezone: str
    traits: dict[str, Any]


def make_users(count: int, rng: random.Random) -> list[User]:
    """`count` users with traits a shop's sign-up form would collect."""
    users = []
    for n in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        city, country, zip_code = rng.choice(_CITIES)
        locale, timezone = rng.choice(_LOCALES)
        users.append(
            User(
                user_id=f"u-{n:06d}",
                anonymous_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                device_id=f"dev-{rng.getrandbits(64):016x}",
                ip=f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                user_agent=rng.choice(_AGENTS),
                locale=locale,
                timezone=timezone,
                traits={
                    # In the tracking plan.
                    "email": f"{first}.{last}.{n}@example.org".lower(),
                    "name": f"{first} {last}",
                    "firstName": first,
                    "lastName": last,
                    "phone": f"+49 30 {rng.randrange(10**7, 10**8)}",
                    "address": {
                        "street": f"{rng.randrange(1, 200)} Main St",
                        "city": city,
                        "postalCode": zip_code,
                        "country": country,
                    },
                    "zip": zip_code,
                    "plan": rng.choice(_PLANS),
                    "createdAt": "2025-03-14T10:00:00+00:00",
                    "age": rng.randrange(18, 80),
                    "gender": rng.choice(["female", "male", "nonbinary"]),
                    "occupation": rng.choice(_OCCUPATIONS),
                    # Not in the tracking plan: must be dropped and counted.
                    "favouriteColour": rng.choice(["blue", "green", "red"]),
                    "loyaltyPoints": rng.randrange(5000),
                    "company": {"name": "Initech", "employees": 250},
                },
            )
        )
    return users


@dataclass
class Traffic:
    """Builds `/v1/batch` bodies from a pool of users."""

    users: list[User]
    rng: random.Random

    def batch(self, size: int) -> dict[str, Any]:
        """One `/v1/batch` document of `size` messages, as the SDK would send it."""
        sent_at = datetime.now(UTC)
        return {
            "batch": [self._message(sent_at) for _ in range(size)],
            "sentAt": sent_at.isoformat(),
        }

    def bodies(self, count: int, size: int) -> list[bytes]:
        """`count` serialized batches, built before any timing starts."""
        return [orjson.dumps(self.batch(size)) for _ in range(count)]

    def _message(self, sent_at: datetime) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < NEW_VISITOR_SHARE:
            return self._page(None, str(uuid.UUID(int=rng.getrandbits(128), version=4)), sent_at)
        user = rng.choice(self.users)
        roll = rng.random()
        if roll < IDENTIFY_SHARE:
            return self._identify(user, sent_at)
        if roll < IDENTIFY_SHARE + PAGE_SHARE:
            return self._page(user, user.anonymous_id, sent_at)
        return self._track(user, sent_at)

    def _base(
        self, kind: str, user: User | None, anonymous_id: str, sent_at: datetime
    ) -> dict[str, Any]:
        rng = self.rng
        context: dict[str, Any] = {"library": _LIBRARY}
        if user is not None:
            context.update(
                ip=user.ip, userAgent=user.user_agent, locale=user.locale, timezone=user.timezone
            )
            if rng.random() < 0.5:
                context["device"] = {"id": user.device_id, "type": "ios"}
        else:
            context.update(ip="203.0.113.9", userAgent=_AGENTS[0], locale="en-US")
        return {
            "type": kind,
            "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "userId": user.user_id if user is not None else None,
            "anonymousId": anonymous_id,
            "timestamp": (sent_at - timedelta(milliseconds=rng.randrange(5000))).isoformat(),
            "context": context,
            "integrations": {},
        }

    def _identify(self, user: User, sent_at: datetime) -> dict[str, Any]:
        message = self._base("identify", user, user.anonymous_id, sent_at)
        keys = list(user.traits)
        chosen = self.rng.sample(keys, k=self.rng.randrange(4, len(keys) + 1))
        message["traits"] = {k: user.traits[k] for k in chosen}
        return message

    def _page(self, user: User | None, anonymous_id: str, sent_at: datetime) -> dict[str, Any]:
        rng = self.rng
        name, category, path = rng.choice(_PAGES)
        url = f"https://demo-shop.example{path}"
        message = self._base("page", user, anonymous_id, sent_at)
        message["context"]["page"] = {"url": url, "path": path, "title": name}
        message.update(
            name=name,
            category=category,
            properties={
                "url": url,
                "path": path,
                "referrer": "https://search.example/?q=shop",
                "title": name,  # not in the plan under properties
                "search": "notebook" if path == "/search" else None,
                "scroll_depth": rng.randrange(100),  # not in the plan
            },
        )
        return message

    def _track(self, user: User, sent_at: datetime) -> dict[str, Any]:
        rng = self.rng
        message = self._base("track", user, user.anonymous_id, sent_at)
        sku, title, price = rng.choice(_PRODUCTS)
        roll = rng.random()
        if roll < 0.55:
            event = "Product Viewed"
            properties: dict[str, Any] = {
                "product_id": sku,
                "sku": sku,
                "price": price,
                "currency": "EUR",
                "position": rng.randrange(1, 30),
                "variant": "blue",  # not in the plan
            }
        elif roll < 0.75:
            event = "Movie Rated"
            properties = {
                "movie_id": rng.randrange(1, 1683),
                "title": title,
                "rating": rng.randrange(1, 6),
            }
        elif roll < 0.9:
            event = "Products Searched"
            properties = {
                "search": rng.choice(["notebook", "ink", "fountain pen"]),
                "filters": {"colour": "blue"},
            }  # not in the plan
        else:
            event = "Order Completed"
            quantity = rng.randrange(1, 4)
            properties = {
                "order_id": f"o-{rng.getrandbits(48):012x}",
                "total": round(price * quantity, 2),
                "revenue": round(price * quantity, 2),
                "currency": "EUR",
                "products": [{"product_id": sku, "sku": sku, "price": price, "quantity": quantity}],
                "coupon": "WINTER10",
                "shipping_method": "standard",  # not in the plan
            }
        message.update(event=event, properties=properties)
        return message
