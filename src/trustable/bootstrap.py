"""The one place that turns settings into a running Trustable.

`bootstrap` opens both stores (migrating them unless told not to), loads and checks
the policy, opens the vault with the master key and hands back a `Trustable` that
the shells (HTTP, CLI) use. Nothing in the package does any of this at import time.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from trustable.core.clock import Clock, system_clock
from trustable.core.files import narrow
from trustable.core.mail import Mailer, MailSettings
from trustable.core.settings import Settings
from trustable.policy.service import Policy, load_policy
from trustable.storage.checkpoint import WalCheckpointer
from trustable.storage.engine import make_engine
from trustable.storage.migrate import upgrade
from trustable.storage.uow import UnitOfWork, WriterLock
from trustable.vault.master import load_next_master_key, load_or_create_master_key
from trustable.vault.service import Vault

if TYPE_CHECKING:
    from trustable.personalize.runner import Personalization


@dataclass
class Trustable:
    settings: Settings
    policy: Policy
    engine: Engine
    key_engine: Engine
    vault: Vault
    clock: Clock
    mailer: Mailer = field(default_factory=lambda: Mailer(MailSettings()))
    # Made on first use by `personalize.runner.personalization`.
    personalization: Personalization | None = None
    _checkpointers: list[WalCheckpointer] = field(default_factory=list)
    _write_lock: AbstractContextManager[object] = field(default_factory=nullcontext)

    def __post_init__(self) -> None:
        if self.engine.dialect.name == "sqlite":
            # SQLite has one writer at a time; waiting on a lock in-process wakes the
            # next writer at once, where SQLite's own busy handler sleeps and polls.
            self._write_lock = WriterLock()
        for engine in (self.engine, self.key_engine):
            if engine.dialect.name == "sqlite":
                self._checkpointers.append(WalCheckpointer(engine).start())

    def uow(self) -> UnitOfWork:
        """A new unit of work on the data store; the caller commits it."""
        return UnitOfWork(self.engine, lock=self._write_lock)

    def reader(self) -> UnitOfWork:
        """A unit of work that only reads (it never blocks writers on SQLite)."""
        return UnitOfWork(self.engine, read_only=True)

    def close(self) -> None:
        self.mailer.close()
        for checkpointer in self._checkpointers:
            checkpointer.stop()
        self.engine.dispose()
        self.key_engine.dispose()


def migrate(settings: Settings, *, partitions: int | None = None) -> None:
    """Bring both stores to the latest schema (`partitions`: see `storage.partitions`)."""
    engine = make_engine(settings.database_url)
    key_engine = make_engine(settings.keystore_url)
    try:
        upgrade(engine, "data", partitions=partitions)
        upgrade(key_engine, "keys")
    finally:
        engine.dispose()
        key_engine.dispose()


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    run_migrations: bool = True,
) -> Trustable:
    settings = settings or Settings.from_env()
    policy = load_policy(settings.policy_path)
    # Owner-only, as everything Trustable writes in it is (`core.files`): a home an
    # older version made readable by others is narrowed here.
    narrow(settings.home)
    if run_migrations:
        migrate(settings)
    engine = make_engine(settings.database_url, pool_size=10)
    key_engine = make_engine(settings.keystore_url)
    try:
        master = load_or_create_master_key(settings.master_key, settings.master_key_file)
        # The new key of a rotation that was interrupted (`trustable keys rotate-master`):
        # with it the store still opens and reads every row until the rotation ends.
        next_key = load_next_master_key(settings.master_key_file)
        vault = Vault(key_engine, master, next_key=next_key, clock=clock).open()
    except Exception:
        engine.dispose()
        key_engine.dispose()
        raise
    return Trustable(
        settings=settings,
        policy=policy,
        engine=engine,
        key_engine=key_engine,
        vault=vault,
        clock=clock,
        mailer=Mailer(settings.mail),
    )
