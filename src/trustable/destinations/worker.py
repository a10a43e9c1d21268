"""The delivery worker: `trustable worker`, or a thread inside `trustable serve`.

It owns its transactions: claiming due deliveries commits at once (a lease), the
consent-filtered body is built in a read, the request is sent outside any
transaction, and the outcome and its ledger entry commit together.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from trustable.bootstrap import Trustable
from trustable.destinations import notices, service
from trustable.destinations.sender import Sender

log = logging.getLogger("trustable.destinations")


@dataclass
class Worker:
    app: Trustable
    rng: random.Random = field(default_factory=random.Random)
    batch: int = 100
    senders: int = 4  # requests in flight at once; more only contend for the interpreter

    def __post_init__(self) -> None:
        self._sender = Sender()
        self._pool = ThreadPoolExecutor(self.senders, thread_name_prefix="trustable-send")
        self._secrets: dict[str, bytes] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._sender.close()

    def run_once(self) -> Counter[str]:
        """Deliver everything due now, notices of erasure and correction included;
        the count of outcomes by state ("notice acknowledged" and so on for notices)."""
        outcomes = self._deliveries()
        outcomes.update(self._notices())
        return outcomes

    def _deliveries(self) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        while True:
            now = self.app.clock()
            with self.app.uow() as uow:
                claimed = service.claim(uow, now=now, limit=self.batch)
                uow.commit()
            if not claimed:
                return outcomes
            outcomes.update(self._deliver(claimed))

    def _deliver(self, claimed: list[service.Delivery]) -> list[str]:
        """One claimed batch: consent-filtered in one read, sent several at a time
        (one slow receiver does not hold up the rest), recorded in one commit."""
        app = self.app
        with app.reader() as uow:
            prepared = service.prepare_many(uow, app.vault, app.policy, claimed)
        self._load_secrets({p.delivery.destination for p in prepared if p.body is not None})
        errors = list(self._pool.map(self._send, prepared))
        with app.uow() as uow:
            states = service.finish_many(
                uow,
                app.vault,
                app.policy,
                list(zip(prepared, errors, strict=True)),
                now=app.clock(),
                rng=self.rng,
            )
            uow.commit()
        for item, error, state in zip(prepared, errors, states, strict=True):
            if error is not None:
                log.warning(
                    "delivery to %s failed: %s (now %s)", item.delivery.destination, error, state
                )
        return states

    def _send(self, prepared: service.Prepared) -> str | None:
        spec = self.app.policy.spec.destinations.get(prepared.delivery.destination)
        if prepared.body is None or spec is None:
            return None
        secret = self._secrets[prepared.delivery.destination]
        key = prepared.delivery.idempotency_key
        return service.post(self._sender, spec, prepared.body, key, secret, self.app.clock())

    def _notices(self) -> Counter[str]:
        """Erasure and correction notices due now, sent as deliveries are."""
        app = self.app
        outcomes: Counter[str] = Counter()
        while True:
            now = app.clock()
            with app.uow() as uow:
                claimed = notices.claim_notices(
                    uow, now=now, until=now + service.LEASE, limit=self.batch
                )
                uow.commit()
            if not claimed:
                return outcomes
            self._load_secrets({n.destination for n in claimed})
            errors = list(self._pool.map(self._send_notice, claimed))
            with app.uow() as uow:
                states = notices.finish_notices(
                    uow,
                    app.vault,
                    app.policy,
                    list(zip(claimed, errors, strict=True)),
                    now=app.clock(),
                    rng=self.rng,
                )
                uow.commit()
            outcomes.update(f"notice {state}" for state in states)

    def _send_notice(self, notice: notices.Notice) -> str | None:
        spec = self.app.policy.spec.destinations.get(notice.destination)
        if spec is None:
            return "the destination is no longer declared in the policy"
        now = self.app.clock()
        secret = self._secrets[notice.destination]
        return service.post(
            self._sender, spec, notice.body(now), notice.idempotency_key, secret, now
        )

    def _load_secrets(self, names: set[str]) -> None:
        """Fetched here, once, so the sender threads never race to load them."""
        for name in names:
            if name not in self._secrets and name in self.app.policy.spec.destinations:
                self._secrets[name] = self.app.vault.destination_secret(name)

    def run_forever(self, stop: threading.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # keep delivering after a bad round; log no data
                log.error("delivery round failed: %s", exc.__class__.__name__)
            stop.wait(interval)


def start_in_background(app: Trustable) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    worker = Worker(app)
    thread = threading.Thread(
        target=worker.run_forever, args=(stop,), name="trustable-destinations", daemon=True
    )
    thread.start()
    return thread, stop
