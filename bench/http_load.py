"""Collection over real HTTP: a server process, and clients that keep it busy.

The server (`bench.server`, or `trustable serve` itself with its own options for the
scale-out runs) runs in a process of its own on a free loopback port and is always
stopped, even when the benchmark fails. The clients are threads of this
process, each with its own keep-alive `httpx.Client`, posting request bodies built
before the clock starts, so what is timed is the server, not the JSON encoder.
"""

from __future__ import annotations

import base64
import itertools
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from bench.world import Store

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(
    store: Store, log_path: Path, *, profile_dir: Path | None = None
) -> Iterator[str]:
    """Run `bench.server` on `store`; yield its base URL; stop it however we leave."""
    port = free_port()
    env = store.env(port)
    if profile_dir is not None:
        env["BENCH_PROFILE_DIR"] = str(profile_dir)
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.server"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(process, url, log_path)
            yield url
        finally:
            _stop(process)


@contextmanager
def trustable_serve(
    store: Store, log_path: Path, *args: str, interval_s: float | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python -m trustable serve` on `store` with `args` (`--workers 2`, …), as an
    operator runs it; yield its base URL and process; stop it however we leave."""
    port = free_port()
    env = store.env(port)
    if interval_s is not None:
        env["TRUSTABLE_LEDGER_INTERVAL"] = str(interval_s)
    url = f"http://127.0.0.1:{port}"
    command = ["-m", "trustable", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *command],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(process, url, log_path)
            yield url, process
        finally:
            _stop(process)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start:\n{_tail(log_path)}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_S} s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM first (uvicorn then shuts down cleanly and profiles get written)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def basic_auth(write_key: str) -> str:
    """How the Segment SDKs send the write key: as the Basic username, no password."""
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode("ascii")


@dataclass
class LoadResult:
    requests: int = 0
    events: int = 0
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stored: int = 0
    fields_kept: int = 0
    fields_dropped: int = 0
    ran_out: bool = False

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s else 0.0


def drive(
    url: str,
    write_key: str,
    bodies: list[bytes],
    *,
    batch_size: int,
    clients: int,
    duration_s: float,
) -> LoadResult:
    """POST `bodies` to `/v1/batch` from `clients` threads until `duration_s` is up.

    Each body is sent once (message ids must be new, or the server would skip them
    as retries); if the bodies run out first the run ends early and says so.
    """
    result = LoadResult()
    lock = threading.Lock()
    counter = itertools.count()
    headers = {"Content-Type": "application/json", "Authorization": basic_auth(write_key)}
    start = time.perf_counter()
    deadline = start + duration_s

    def client_loop() -> None:
        latencies: list[float] = []
        errors: list[str] = []
        stored = kept = dropped = 0
        with httpx.Client(base_url=url, headers=headers, timeout=60.0) as client:
            while time.perf_counter() < deadline:
                index = next(counter)
                if index >= len(bodies):
                    result.ran_out = True
                    break
                sent = time.perf_counter()
                try:
                    response = client.post("/v1/batch", content=bodies[index])
                except httpx.HTTPError as exc:  # the server died or hung: stop this client
                    errors.append(f"{exc.__class__.__name__}: {exc}")
                    latencies.append(time.perf_counter() - sent)
                    break
                latencies.append(time.perf_counter() - sent)
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:300]}")
                    continue
                answer = orjson.loads(response.content)
                stored += answer["stored"]
                kept += answer["fields_kept"]
                dropped += answer["fields_dropped"]
        with lock:
            result.latencies_s.extend(latencies)
            result.errors.extend(errors)
            result.requests += len(latencies)
            result.events += (len(latencies) - len(errors)) * batch_size
            result.stored += stored
            result.fields_kept += kept
            result.fields_dropped += dropped

    threads = [threading.Thread(target=client_loop, name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed_s = time.perf_counter() - start
    return result
