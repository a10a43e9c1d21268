"""The server under test, as its own process: `python -m bench.server`.

It is what `trustable serve` runs (`api.server.run`: the app of
`create_app(bootstrap(...))` under uvicorn, with uvloop and httptools when installed,
no access log, start-up objects frozen out of the collector) but quiet, without the
delivery thread, and with its settings from the environment the benchmark hands it. Running it apart
from the load generator keeps the two from sharing one interpreter lock, as an SDK
and a server never do.

With BENCH_PROFILE_DIR set it also profiles itself (cProfile): the event-loop thread
(HTTP parsing, routing, responses) and, per worker thread, the collection work that
`events.routes._collect` runs in the thread pool; the stats are written on shutdown.
"""

from __future__ import annotations

import cProfile
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trustable.api.server import run
from trustable.bootstrap import bootstrap
from trustable.core.settings import Settings


class ThreadProfiles:
    """One cProfile per thread (a cProfile only ever sees the thread that enabled it)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.profiles: list[cProfile.Profile] = []

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def profiled(*args: Any, **kwargs: Any) -> Any:
            profile = getattr(self._local, "profile", None)
            if profile is None:
                profile = self._local.profile = cProfile.Profile()
                with self._lock:
                    self.profiles.append(profile)
            profile.enable()
            try:
                return function(*args, **kwargs)
            finally:
                profile.disable()

        return profiled


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main() -> None:
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the
    # previous handler: make that handler an exit, so `finally` still runs.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    settings = Settings.from_env()
    trustable = bootstrap(settings, run_migrations=False)
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    loop_profile = cProfile.Profile()
    workers = ThreadProfiles()
    if profile_dir:
        from trustable.events import routes

        routes._collect = workers.wrap(routes._collect)
        loop_profile.enable()
    try:
        run(trustable, settings.host, settings.port, worker=False, quiet=True)
    finally:
        loop_profile.disable()
        trustable.close()
        if profile_dir:
            out = Path(profile_dir)
            out.mkdir(parents=True, exist_ok=True)
            loop_profile.dump_stats(out / "server-loop.prof")
            for n, profile in enumerate(workers.profiles):
                profile.dump_stats(out / f"server-worker-{n}.prof")


if __name__ == "__main__":
    main()
