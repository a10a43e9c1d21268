"""A Citus cluster for the tests, started with the workplace's tool.

`../shared/tools/citus-cluster.sh` (beside the project) builds Citus into this
machine's PostgreSQL 15 (`install`, which `make test` runs) and starts a coordinator
and workers on loopback ports (`start DIR PORT N`), each node a PostgreSQL of its
own under DIR. Outside CI a machine without the tool or Citus skips what needs it.
`start_cluster` is the same without pytest, for the benchmark (bench/citus.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "citus-cluster.sh"
INSTALLED = Path("/usr/lib/postgresql/15/lib/citus.so")
WORKERS = 2


class ClusterUnavailable(RuntimeError):
    """No cluster can be started here: the tool or Citus is missing, or the tool failed."""


def _free_ports(count: int) -> int:
    """The first of `count` consecutive ports free on loopback now, from this
    process's own range: each pytest-xdist worker (gw0, gw1, …) starts a cluster of its
    own for its tests on Citus, and two probing one range at the same moment would
    both find the same ports free."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = 19_800 + 1_000 * (int(worker) if worker.isdigit() else 0)
    for first in range(base, base + 1_000 - count, count + 1):
        try:
            for port in range(first, first + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError("no free ports for a Citus cluster")


def workers(coordinator: str) -> list[str]:
    """The URLs of the cluster's workers (psycopg form), as the coordinator lists them."""
    import psycopg

    with psycopg.connect(coordinator.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE noderole = 'primary' "
            "AND groupid <> 0 ORDER BY nodeport"
        ).fetchall()
    return [f"postgresql://postgres@{host}:{port}/postgres" for host, port in rows]


@dataclass(frozen=True)
class Cluster:
    url: str  # the coordinator, as SQLAlchemy takes it
    folder: Path

    def add_worker(self) -> str:
        """Start one more worker and register it with the coordinator; its URL."""
        port = _free_ports(1)
        added = subprocess.run(
            ["bash", str(TOOL), "add", str(self.folder), str(port)],
            capture_output=True,
            text=True,
            timeout=180,
        )
        if added.returncode != 0:
            raise RuntimeError(f"the tool could not add a worker: {added.stderr[-500:]}")
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"


@contextmanager
def start_cluster(workers: int = WORKERS) -> Iterator[Cluster]:
    """Start a coordinator and `workers` workers in a folder of their own (directly
    under the temporary directory: the postgres user must reach it, and pytest's
    own folders are private); yield the cluster; stop every node and remove the
    folder however we leave. Raises `ClusterUnavailable` when none can start."""
    if not TOOL.is_file():
        raise ClusterUnavailable(f"{TOOL} is missing")
    if not INSTALLED.is_file():
        raise ClusterUnavailable("Citus is not installed: run `make test`, which installs it")
    folder = Path(tempfile.mkdtemp(prefix="trustable-citus-"))
    folder.chmod(0o755)  # the nodes run as the postgres user, who must reach it
    port = _free_ports(workers + 1)
    try:
        started = subprocess.run(
            ["bash", str(TOOL), "start", str(folder), str(port), str(workers)],
            capture_output=True,
            text=True,
            timeout=180,
        )
        if started.returncode != 0:
            raise ClusterUnavailable(f"the tool failed: {started.stderr.strip()[-500:]}")
        url = started.stdout.strip().splitlines()[-1]
        yield Cluster(url.replace("postgresql://", "postgresql+psycopg://", 1), folder)
    finally:
        subprocess.run(["bash", str(TOOL), "stop", str(folder)], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def citus_cluster(workers: int = WORKERS) -> Iterator[Cluster]:
    """`start_cluster` for a test: where none can start, the test is skipped, or
    fails under CI=true (where the cluster is part of what is tested)."""
    try:
        with start_cluster(workers) as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Citus cluster ({exc}) and CI=true")
        pytest.skip(f"no Citus cluster here ({exc})")
