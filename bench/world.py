"""Throw-away Trustable stores: made in a temporary folder, seeded once, then copied.

Seeding (a write key, customers and their consents) goes through Trustable's own
services, as a real deployment would fill itself. It is done once and the store's
files are copied for each measurement, so every benchmark starts from the same
state and none pays for another's rows.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.traffic import User
from trustable.access.service import create_key
from trustable.bootstrap import Trustable, bootstrap, migrate
from trustable.consent.service import ConsentMethod, ConsentStatus, record_for_identifiers
from trustable.core.settings import Settings, example_policy_path
from trustable.identity.kinds import normalise
from trustable.storage.engine import drop_schema, make_engine
from trustable.vault.master import encode_key

# Share of users who granted (or refused) each consent purpose before the run:
# (purpose, [(status, probability), ...]); the rest never answered (denied by default).
CONSENT_PLAN: list[tuple[str, list[tuple[ConsentStatus, float]]]] = [
    (
        "personalize.content.profiled",
        [(ConsentStatus.granted, 0.60), (ConsentStatus.denied, 0.15)],
    ),
    ("analytics.reporting", [(ConsentStatus.granted, 0.50), (ConsentStatus.denied, 0.10)]),
    (
        "marketing.communications.email",
        [(ConsentStatus.granted, 0.30), (ConsentStatus.withdrawn, 0.05)],
    ),
    ("marketing.advertising.third_party.targeted", [(ConsentStatus.granted, 0.10)]),
]


@dataclass(frozen=True)
class Store:
    """A data store and a key store in `home`, opened by `master_key`: SQLite files
    there, unless `database_url` and `keystore_url` name schemas of a PostgreSQL."""

    home: Path
    master_key: str
    database_url: str | None = None
    keystore_url: str | None = None

    @property
    def settings(self) -> Settings:
        return Settings(
            home=self.home,
            database_url=self.database_url or f"sqlite:///{self.home / 'data.db'}",
            keystore_url=self.keystore_url or f"sqlite:///{self.home / 'keys.db'}",
            policy_path=example_policy_path(),
            master_key=self.master_key,
        )

    @property
    def dialect(self) -> str:
        return "postgresql" if self.database_url else "sqlite"

    def env(self, port: int) -> dict[str, str]:
        """The environment that makes `Settings.from_env` in a server process name this
        store, whatever TRUSTABLE_* variables the caller's shell happens to carry."""
        settings = self.settings
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRUSTABLE_")},
            "TRUSTABLE_HOME": str(self.home),
            "TRUSTABLE_DATABASE_URL": settings.database_url,
            "TRUSTABLE_KEYSTORE_URL": settings.keystore_url,
            "TRUSTABLE_POLICY": str(settings.policy_path),
            "TRUSTABLE_MASTER_KEY": self.master_key,
            "TRUSTABLE_HOST": "127.0.0.1",
            "TRUSTABLE_PORT": str(port),
            # The measured server does the requests' work only: no retention sweep.
            "TRUSTABLE_RETENTION_HOURS": "0",
        }

    def open(self) -> Trustable:
        """A running Trustable on this store (already migrated); the caller closes it."""
        return bootstrap(self.settings, run_migrations=False)

    def clone(self, home: Path) -> Store:
        """A copy of this store's files; only valid while no one has the store open."""
        if self.database_url:
            raise ValueError("a PostgreSQL store cannot be copied as files")
        shutil.copytree(self.home, home)
        return Store(home, self.master_key)


def new_store(home: Path) -> Store:
    """An empty, migrated store under a fresh random master key."""
    store = Store(home, encode_key(secrets.token_bytes(32)))
    migrate(store.settings)
    return store


@contextmanager
def postgres_store(
    home: Path, server_url: str, *, keys_url: str | None = None, partitions: int | None = None
) -> Iterator[Store]:
    """An empty, migrated store in two fresh schemas, both dropped however we leave:
    the data's on the PostgreSQL at `server_url` (or Citus coordinator), the keys' on
    `keys_url` (the same server unless given; keys never sit with the data in
    production, and a cluster's keys live on a PostgreSQL of their own).
    `partitions`: as `trustable db upgrade --partitions` (on Citus, the shard count)."""
    tag = secrets.token_hex(5)
    keys_server = keys_url or server_url

    def in_schema(url: str, schema: str) -> str:
        return f"{url}{'&' if '?' in url else '?'}schema={schema}"

    store = Store(
        home,
        encode_key(secrets.token_bytes(32)),
        database_url=in_schema(server_url, f"bench_{tag}"),
        keystore_url=in_schema(keys_server, f"bench_{tag}_keys"),
    )
    home.mkdir(parents=True, exist_ok=True)
    try:
        migrate(store.settings, partitions=partitions)
        yield store
    finally:
        for url in (store.database_url, store.keystore_url):
            assert url is not None
            engine = make_engine(url)
            try:
                drop_schema(engine)
            finally:
                engine.dispose()


@dataclass(frozen=True)
class Seeded:
    store: Store
    write_key: str
    consents: Counter[str]


def seed(store: Store, users: list[User], rng: random.Random) -> Seeded:
    """A `collect` write key, and consent decisions for the users that made some.

    Consent is recorded through `record_for_identifiers`, which creates each customer
    with both of their ids (as a sign-up form with a consent banner would), so the
    events sent later resolve to them.
    """
    app = store.open()
    consents: Counter[str] = Counter()
    try:
        with app.uow() as uow:
            now = app.clock()
            _, write_key = create_key(uow, app.policy, name="bench", scopes=["collect"], now=now)
            for user in users:
                idents = [
                    ("user_id", normalise("user_id", user.user_id)),
                    ("anonymous_id", normalise("anonymous_id", user.anonymous_id)),
                ]
                for purpose, status in _decisions_of_one_user(rng):
                    record_for_identifiers(
                        uow,
                        app.vault,
                        app.policy,
                        idents=idents,
                        purpose=purpose,
                        status=status,
                        method=ConsentMethod.api,
                        now=now,
                        actor="bench",
                    )
                    consents[f"{purpose} {status.value}"] += 1
            uow.commit()
    finally:
        app.close()
    return Seeded(store, write_key, consents)


def _decisions_of_one_user(rng: random.Random) -> list[tuple[str, ConsentStatus]]:
    chosen = []
    for purpose, outcomes in CONSENT_PLAN:
        roll = rng.random()
        for status, share in outcomes:
            if roll < share:
                chosen.append((purpose, status))
                break
            roll -= share
    return chosen
