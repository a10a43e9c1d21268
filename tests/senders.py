"""Many senders at once: one thread per sender, each with its own keep-alive client,
every round started by all of them at the same moment (a barrier), as SDKs on many
servers flushing their queues at once do."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.conftest import LiveServer


def fire(
    server: LiveServer, key: str, batches: list[list[list[dict[str, Any]]]]
) -> list[tuple[int, list[str]]]:
    """Send `batches[round][sender]` from one thread per sender, each round started
    at once by all; (status, message ids) of every answer."""
    answers: list[tuple[int, list[str]]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(batches[0]))

    def run(sender: int) -> None:
        with httpx.Client(base_url=server.url, auth=(key, ""), timeout=60) as client:
            for rnd in batches:
                batch = rnd[sender]
                barrier.wait()
                answer = client.post("/v1/batch", json={"batch": batch})
                with lock:
                    answers.append((answer.status_code, [m["messageId"] for m in batch]))

    threads = [threading.Thread(target=run, args=(s,)) for s in range(len(batches[0]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    return answers
