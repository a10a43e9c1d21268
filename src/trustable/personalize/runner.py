"""The recommender of a running Trustable: built once, then kept in step with consent.

Like the delivery worker, this owns its units of work. `serve` builds the model at
start and then syncs it every quarter of a second from a thread: a customer who
withdraws, objects, is restricted or erased leaves the model within that, and their
own reads stop being personal at once (each read checks their consent itself).

Each process has a model of its own, built from the shared store and kept in step
with it, whichever process took the change: the sync reads what changed in the
store (`personalize.service.changes_marker`), and the vault's log of destroyed keys
tells it of erasures made elsewhere (`Vault.on_destroyed`), which it reads on every
round. There is nothing to claim: every process must follow on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from trustable.bootstrap import Trustable
from trustable.personalize.service import Recommender, build, forget, sync

log = logging.getLogger("trustable.personalize")
INTERVAL = 0.25


@dataclass
class Personalization:
    app: Trustable
    _recommender: Recommender | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def recommender(self) -> Recommender:
        """The model, trained on first use if `serve` has not trained it yet."""
        with self._lock:
            if self._recommender is None:
                started = time.perf_counter()
                with self.app.reader() as uow:
                    self._recommender = build(uow, self.app.vault, self.app.policy)
                self.app.vault.on_destroyed(self._destroyed)
                log.info(
                    "recommender trained on %d customers in %.1f s",
                    len(self._recommender.model.contributors),
                    time.perf_counter() - started,
                )
            return self._recommender

    def _destroyed(self, customer_ids: list[str] | None) -> None:
        """Keys destroyed by another process: those customers leave the model now;
        None (the log may have lost rows) makes the next sync check everyone."""
        recommender = self._recommender
        if recommender is None:
            return
        if customer_ids is None:
            recommender.checked_at = -float("inf")
        else:
            forget(recommender, customer_ids)

    def sync(self) -> int:
        recommender = self.recommender()
        self.app.vault.follow()  # erasures made by other processes
        with self.app.reader() as uow:
            return sync(uow, self.app.vault, self.app.policy, recommender)

    def forget(self, customer_ids: list[str]) -> int:
        """Take these customers out of the model at once (erasure), if it is built."""
        with self._lock:
            recommender = self._recommender
        return 0 if recommender is None else forget(recommender, customer_ids)

    def run_forever(self, stop: threading.Event, interval: float = INTERVAL) -> None:
        while not stop.is_set():
            try:
                self.sync()
            except Exception as exc:  # keep following consent after a bad round
                log.error("recommender sync failed: %s", exc.__class__.__name__)
            stop.wait(interval)


def personalization(app: Trustable) -> Personalization:
    """The one `Personalization` of this running Trustable."""
    with _made:
        found = app.personalization
        if found is None:
            found = app.personalization = Personalization(app)
        return found


_made = threading.Lock()


def start_in_background(app: Trustable) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(
        target=personalization(app).run_forever,
        args=(stop,),
        name="trustable-personalize",
        daemon=True,
    )
    thread.start()
    return thread, stop
