"""`trustable serve` as a process of its own: several of them on one store.

What one process keeps in memory another cannot see, so what must hold across
processes is tested with real ones: each `Served` runs the `trustable serve` command
in a subprocess, on the stores of the test's `settings`, and is reached over HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx

from tests.conftest import free_port
from tests.helpers import cli_env
from trustable.core.settings import Settings

T = TypeVar("T")


class Served:
    def __init__(self, settings: Settings, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **cli_env(settings),
            "TRUSTABLE_RETENTION_HOURS": "0",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Served:
        command = [sys.executable, "-c", "from trustable.cli.main import app; app()"]
        self.process = subprocess.Popen(
            [*command, "serve", "--port", str(self.port), "--no-worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"trustable serve exited: {err[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("trustable serve did not answer within 60 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None


@contextmanager
def served(settings: Settings, count: int = 2, **env: str) -> Iterator[list[Served]]:
    """`count` processes serving the same stores, stopped at the end."""
    started: list[Served] = []
    try:
        for _ in range(count):
            started.append(Served(settings, **env).start())
        yield started
    finally:
        for server in started:
            server.stop()


def within(seconds: float, probe: Callable[[], T], until: Callable[[T], bool]) -> tuple[T, float]:
    """Call `probe` until `until` holds of its answer, for at most `seconds`: the
    answer and how long it took (the last answer, when the bound passed first)."""
    started = time.monotonic()
    while True:
        found = probe()
        taken = time.monotonic() - started
        if until(found) or taken > seconds:
            return found, taken
        time.sleep(0.02)
