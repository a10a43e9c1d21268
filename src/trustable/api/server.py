"""Running the app under uvicorn, in one process or several.

Every serving process runs the same background threads: the ledger's sequencer
(only the leader among all processes works, `ledger.sequencer`), the delivery
worker (deliveries are leased, so none is sent twice at once), the retention sweep
and the recommender's sync. With `workers` above one, uvicorn starts that many
processes on one socket; each builds its own Trustable from the environment (the
calling process has already migrated the stores).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI

from trustable.api.app import create_app
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings

log = logging.getLogger("trustable.api")
# How `serve` tells the processes it starts whether to deliver too and how much to
# log (they read everything else from the same environment as the command).
_DELIVER = "TRUSTABLE_SERVE_DELIVER"
_LOG_LEVEL = "TRUSTABLE_SERVE_LOG_LEVEL"


def configure_logging(level: str) -> None:
    """Trustable's own log lines on stderr beside uvicorn's, in the same form."""
    logger = logging.getLogger("trustable")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     [%(name)s] %(message)s"))
        logger.addHandler(handler)


@dataclass
class Background:
    """The threads of one serving process, stopped together."""

    threads: list[tuple[threading.Thread, threading.Event]] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every thread to stop, and give them `timeout` seconds in all to do so
        (the sequencer's last round sequences what was submitted until then)."""
        for _, stop in self.threads:
            stop.set()
        deadline = time.monotonic() + timeout
        for thread, _ in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def start_background(trustable: Trustable, *, worker: bool = True) -> Background:
    """Sequence the ledger; with `worker`, deliver to destinations as well; sweep data
    past its retention (unless `TRUSTABLE_RETENTION_HOURS` is 0); keep the
    recommender in step with consent."""
    from trustable.ledger.sequencer import start_in_background as start_sequencing

    running = Background([])
    wake = None
    if trustable.settings.witnesses:
        # Asked after the sequencer's rounds, from a thread of their own.
        from trustable.ledger.witnesses import start_in_background as start_asking

        asker, thread, stop = start_asking(trustable)
        wake = asker.wake.set
        running.threads.append((thread, stop))
    running.threads.append(start_sequencing(trustable, after_round=wake))
    if worker and trustable.policy.spec.destinations:
        from trustable.destinations.worker import start_in_background

        running.threads.append(start_in_background(trustable))
    if trustable.settings.retention_hours > 0:
        from trustable.retention.runner import start_in_background as start_sweeping

        running.threads.append(start_sweeping(trustable))
    if trustable.policy.spec.personalization is not None:
        # Trains the recommender, then keeps it in step with consent.
        from trustable.personalize.runner import start_in_background as start_following

        running.threads.append(start_following(trustable))
    return running


def run(
    trustable: Trustable,
    host: str,
    port: int,
    *,
    worker: bool = True,
    quiet: bool = False,
    workers: int = 1,
) -> None:
    """Serve the API with its background threads; `quiet` logs warnings only."""
    log_level = "warning" if quiet else "info"
    if workers > 1:
        os.environ[_DELIVER] = "1" if worker else "0"
        os.environ[_LOG_LEVEL] = log_level
        uvicorn.run(
            "trustable.api.server:worker_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
        )
        return
    configure_logging(log_level)
    background = start_background(trustable, worker=worker)
    try:
        _serve(trustable, host, port, log_level=log_level)
    finally:
        background.stop()


def worker_app() -> FastAPI:
    """One of the processes of `serve --workers N`: its own Trustable, threads and app."""
    configure_logging(os.environ.get(_LOG_LEVEL, "info"))
    trustable = bootstrap(Settings.from_env(), run_migrations=False)
    background = start_background(trustable, worker=os.environ.get(_DELIVER, "1") == "1")
    app = create_app(trustable)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            background.stop()
            trustable.close()

    app.router.lifespan_context = lifespan
    _settle_heap()
    return app


def _settle_heap() -> None:
    # What start-up loaded lives as long as the service: keep the collector off it,
    # so its full collections stay short and do not land in the middle of requests.
    gc.collect()
    gc.freeze()


def _serve(trustable: Trustable, host: str, port: int, *, log_level: str) -> None:
    app = create_app(trustable)
    _settle_heap()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        # Paths carry only opaque ids, but query strings could carry anything.
        access_log=False,
    )
