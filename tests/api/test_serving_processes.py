"""`trustable serve` as real processes: several workers, several hosts, one database.

Whatever process or host a batch lands on, its ledger records are sequenced by the
one leader among them within the interval, and when the leader dies another takes
over: nothing submitted is lost, nothing gets two indices.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, make_key
from tests.helpers import cli_env
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings
from trustable.ledger import service as ledger
from trustable.ledger.verify import verify

LEADING = "this process sequences the ledger"


class Served:
    """One `trustable serve` process, its log in a file (a pipe could fill up)."""

    def __init__(self, settings: Settings, log: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {
            **os.environ,
            **cli_env(settings),
            "TRUSTABLE_LEDGER_INTERVAL": "0.2",
            "TRUSTABLE_RETENTION_HOURS": "0",
        }
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "trustable", "serve", "--port", str(self.port), *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.text()
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def store(postgres_settings: Settings) -> Iterator[Trustable]:
    app = bootstrap(postgres_settings)  # migrated here, as `serve` would
    yield app
    app.close()


def post_batches(url: str, key: str, batches: int, size: int = 25) -> int:
    with httpx.Client(base_url=url, auth=(key, ""), timeout=30) as client:
        for _ in range(batches):
            batch = [
                {
                    "type": "track",
                    "userId": f"u{uuid.uuid4().hex[:6]}",
                    "event": "Order Completed",
                    "messageId": str(uuid.uuid4()),
                }
                for _ in range(size)
            ]
            answer = client.post("/v1/batch", json={"batch": batch})
            assert answer.status_code == 200, answer.text
    return batches * size


def wait_logged(app: Trustable, count: int, within: float) -> float:
    """Seconds until `count` entries are in the log and a signed head covers them."""
    started = time.monotonic()
    while True:
        with app.reader() as uow:
            head = ledger.latest_head(uow)
            size = ledger.tree_size(uow)
        if size == count and head is not None and head.size == count:
            return time.monotonic() - started
        assert size <= count, f"{size} entries for {count} records"
        assert time.monotonic() - started < within, f"{size} of {count} logged in {within} s"
        time.sleep(0.05)


def test_serve_with_two_workers_sequences_in_one_of_them(
    store: Trustable, postgres_settings: Settings, tmp_path: Path
) -> None:
    key = make_key(store, "collect:server")
    served = Served(postgres_settings, tmp_path / "serve.log", "--workers", "2", "--no-worker")
    try:
        sent = post_batches(served.url, key, 40)
        # An interval of 0.2 s: logged and signed well within a second.
        assert wait_logged(store, sent, within=5) < 5
        assert served.text().count(LEADING) == 1
    finally:
        served.stop()
    with store.reader() as uow:
        result = verify(uow, store.vault.public_key(), now=store.clock(), max_delay=30)
    assert result.ok, result.problem
    assert served.process.returncode == 0, served.text()


def test_two_hosts_on_one_database_go_on_sequencing_when_the_leader_dies(
    store: Trustable, postgres_settings: Settings, tmp_path: Path
) -> None:
    key = make_key(store, "collect:server")
    hosts = [Served(postgres_settings, tmp_path / f"host{n}.log", "--no-worker") for n in (1, 2)]
    try:
        deadline = time.monotonic() + 10
        while not any(LEADING in h.text() for h in hosts):
            assert time.monotonic() < deadline, "no host took the lead"
            time.sleep(0.05)
        [leader] = [h for h in hosts if LEADING in h.text()]
        [other] = [h for h in hosts if h is not leader]
        sent = sum(post_batches(h.url, key, 10) for h in hosts)
        wait_logged(store, sent, within=5)

        # Records submitted just before the leader dies are sequenced by the other.
        sent += post_batches(leader.url, key, 10)
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=10)
        sent += post_batches(other.url, key, 10)
        wait_logged(store, sent, within=10)
        assert LEADING in other.text()
    finally:
        for host in hosts:
            host.stop()
    with store.reader() as uow:
        result = verify(uow, store.vault.public_key(), now=store.clock(), max_delay=30)
    assert result.ok, result.problem
    assert result.entries == sent
