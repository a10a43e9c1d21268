"""A Citus cluster grows under load: a worker joins and the shards are rebalanced onto
it while clients collect. Nothing acknowledged is lost or stored twice, clients see
at most 503s they retry, and the ledger verifies afterwards.

The cluster is this test's own (a coordinator and two workers), since it gains a
third; the rebalance moves shards with logical replication (the tool sets
`wal_level = logical`), so writes go on while a shard moves.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.citus import Cluster, citus_cluster, workers
from tests.conftest import LiveServer, make_key, postgres_store, sqlite_settings
from tests.helpers import msg
from trustable.bootstrap import Trustable, bootstrap, migrate
from trustable.ledger.sequencer import flush
from trustable.ledger.verify import verify

SHARDS = 8
CLIENTS = 3
MAX_ATTEMPTS = 30


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with citus_cluster(workers=2) as started:
        yield started


@pytest.fixture
def shop(cluster: Cluster, tmp_path: Path) -> Iterator[Trustable]:
    with postgres_store(sqlite_settings(tmp_path), data_server=cluster.url) as settings:
        migrate(settings, partitions=SHARDS)
        app = bootstrap(settings)
        yield app
        app.close()


@dataclass
class Load:
    """Clients sending batches until told to stop, as SDKs do: a 503 is retried after
    its Retry-After, anything else but a 200 is a failure."""

    url: str
    key: str
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: list[str] = field(default_factory=list)
    retried: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, number: int) -> None:
        users = itertools.cycle(range(number, 300, CLIENTS))
        with httpx.Client(base_url=self.url, auth=(self.key, ""), timeout=30) as http:
            while not self.stop.is_set():
                batch = [
                    msg(
                        "track",
                        f"u-{next(users)}",
                        messageId=str(uuid.uuid4()),
                        event="Order Completed",
                        properties={"order_id": str(uuid.uuid4())[:8]},
                    )
                    for _ in range(10)
                ]
                self._send(http, batch)

    def _send(self, http: httpx.Client, batch: list[dict[str, Any]]) -> None:
        for _ in range(MAX_ATTEMPTS):
            answer = http.post("/v1/batch", json={"batch": batch})
            if answer.status_code == 200:
                with self.lock:
                    self.acknowledged.extend(m["messageId"] for m in batch)
                return
            if answer.status_code != 503:
                with self.lock:
                    self.failures.append(f"{answer.status_code}: {answer.text[:300]}")
                return
            with self.lock:
                self.retried[answer.status_code] += 1
            time.sleep(float(answer.headers.get("retry-after", "1")))
        with self.lock:
            self.failures.append(f"still 503 after {MAX_ATTEMPTS} attempts")


def test_a_worker_joins_and_shards_move_under_load_and_nothing_is_lost(
    cluster: Cluster, shop: Trustable, live_server_for: Any
) -> None:
    server: LiveServer = live_server_for(shop)
    load = Load(server.url, make_key(shop, "collect:server"))
    clients = [threading.Thread(target=load.client, args=(n,)) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    try:
        time.sleep(2)
        before = len(load.acknowledged)
        added = cluster.add_worker()
        # Outside a transaction: the rebalance is a background job, and the wait
        # would never see one started in a transaction still open.
        with shop.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT citus_rebalance_start()"))
            conn.execute(text("SELECT citus_rebalance_wait()"))
            moved = conn.execute(
                text("SELECT count(*) FROM citus_shards WHERE nodeport = :p"),
                {"p": int(added.rsplit(":", 1)[1].split("/", 1)[0])},
            ).scalar_one()
        time.sleep(1)
    finally:
        load.stop.set()
        for client in clients:
            client.join(timeout=60)
    assert not load.failures, load.failures[:5]
    assert before > 0 and len(load.acknowledged) > before  # collection went on meanwhile
    assert len(workers(cluster.url)) == 3
    assert moved > 0, "no shard moved onto the new worker"

    with shop.reader() as uow:
        stored = Counter(uow.connection.execute(text("SELECT message_id FROM events")).scalars())
    acknowledged = Counter(load.acknowledged)
    assert not [m for m in acknowledged if stored[m] == 0], "acknowledged events were lost"
    assert not [m for m, n in stored.items() if n > 1], "events were stored twice"
    assert set(stored) <= set(acknowledged)  # nothing stored that was not acknowledged

    flush(shop)
    with shop.reader() as uow:
        result = verify(
            uow,
            shop.vault.public_key(),
            now=shop.clock(),
            max_delay=shop.settings.ledger_max_delay,
        )
    assert result.ok, result.problem
    assert result.entries >= len(acknowledged)
