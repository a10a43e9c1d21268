"""Running the app under uvicorn."""

from __future__ import annotations

import gc

import uvicorn

from trustable.api.app import create_app
from trustable.bootstrap import Trustable


def run(trustable: Trustable, host: str, port: int, *, worker: bool = True) -> None:
    """Serve the API; with `worker`, deliver to destinations from a thread as well."""
    stop = None
    if worker and trustable.policy.spec.destinations:
        from trustable.destinations.worker import start_in_background

        _thread, stop = start_in_background(trustable)
    try:
        _serve(trustable, host, port)
    finally:
        if stop is not None:
            stop.set()


def _serve(trustable: Trustable, host: str, port: int) -> None:
    # What start-up loaded lives as long as the service: keep the collector off it,
    # so its pauses do not land in the middle of requests.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        create_app(trustable),
        host=host,
        port=port,
        log_level="info",
        # Paths carry only opaque ids, but query strings could carry anything.
        access_log=False,
    )
