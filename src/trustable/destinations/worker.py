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
from dataclasses import dataclass, field

import httpx

from trustable.bootstrap import Trustable
from trustable.destinations import service

log = logging.getLogger("trustable.destinations")


@dataclass
class Worker:
    app: Trustable
    rng: random.Random = field(default_factory=random.Random)
    batch: int = 100

    def __post_init__(self) -> None:
        self._client = httpx.Client(follow_redirects=False)
        self._secrets: dict[str, bytes] = {}

    def close(self) -> None:
        self._client.close()

    def run_once(self) -> Counter[str]:
        """Deliver everything due now; the count of outcomes by state."""
        outcomes: Counter[str] = Counter()
        while True:
            now = self.app.clock()
            with self.app.uow() as uow:
                claimed = service.claim(uow, now=now, limit=self.batch)
                uow.commit()
            if not claimed:
                return outcomes
            for delivery in claimed:
                outcomes[self._deliver(delivery)] += 1

    def _deliver(self, delivery: service.Delivery) -> str:
        app = self.app
        with app.reader() as uow:
            prepared = service.prepare(uow, app.vault, app.policy, delivery, now=app.clock())
        error: str | None = None
        spec = app.policy.spec.destinations.get(delivery.destination)
        if prepared.body is not None and spec is not None:
            secret = self._secrets.get(delivery.destination)
            if secret is None:
                secret = app.vault.destination_secret(delivery.destination)
                self._secrets[delivery.destination] = secret
            error = service.post(self._client, spec, prepared, secret, app.clock())
        with app.uow() as uow:
            state = service.finish(
                uow, app.vault, app.policy, prepared, error, now=app.clock(), rng=self.rng
            )
            uow.commit()
        if error is not None:
            log.warning("delivery to %s failed: %s (now %s)", delivery.destination, error, state)
        return state

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
