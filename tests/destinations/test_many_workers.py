"""Several delivery workers on one store share the outbox: none sends a delivery
another is sending (each claims a batch with a lease), and together they send all."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tests.destinations.receiver import Receiver
from tests.destinations.test_delivery import boot, grant, rate
from trustable.bootstrap import bootstrap
from trustable.core.settings import Settings
from trustable.destinations.worker import Worker


def test_two_workers_draining_one_outbox_send_each_delivery_once(
    settings: Settings, tmp_path: Path, receiver: Receiver
) -> None:
    shop = boot(settings, tmp_path, receiver.url, timeout=10)
    # A second process: the same stores and policy, engines and vault of its own.
    other = bootstrap(replace(settings, policy_path=shop.settings.policy_path), clock=shop.clock)
    try:
        for n in range(60):
            grant(shop, f"user-{n}")
            rate(shop, f"user-{n}", movie=str(n))
        workers = [Worker(shop, batch=7), Worker(other, batch=7)]
        start = threading.Barrier(2)
        outcomes: list[Counter[str]] = [Counter(), Counter()]

        def drain(n: int) -> None:
            start.wait()
            outcomes[n] = workers[n].run_once()

        threads = [threading.Thread(target=drain, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for worker in workers:
            worker.close()
    finally:
        other.close()
        shop.close()
    keys = Counter(r.headers["Idempotency-Key"] for r in receiver.received)
    assert len(keys) == 60 and set(keys.values()) == {1}, keys.most_common(3)
    assert outcomes[0]["delivered"] + outcomes[1]["delivered"] == 60
    assert outcomes[0]["delivered"] and outcomes[1]["delivered"], outcomes  # both worked
