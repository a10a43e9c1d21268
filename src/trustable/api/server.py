"""Running the app under uvicorn."""

from __future__ import annotations

import gc

import uvicorn

from trustable.api.app import create_app
from trustable.bootstrap import Trustable


def run(
    trustable: Trustable, host: str, port: int, *, worker: bool = True, quiet: bool = False
) -> None:
    """Serve the API; with `worker`, deliver to destinations from a thread as well;
    sweep data past its retention from another (unless `TRUSTABLE_RETENTION_HOURS`
    is 0); keep the recommender in step with consent from a third; `quiet` logs
    warnings only."""
    stops = []
    if worker and trustable.policy.spec.destinations:
        from trustable.destinations.worker import start_in_background

        stops.append(start_in_background(trustable)[1])
    if trustable.settings.retention_hours > 0:
        from trustable.retention.runner import start_in_background as start_sweeping

        stops.append(start_sweeping(trustable)[1])
    if trustable.policy.spec.personalization is not None:
        # Trains the recommender, then keeps it in step with consent.
        from trustable.personalize.runner import start_in_background as start_following

        stops.append(start_following(trustable)[1])
    try:
        _serve(trustable, host, port, log_level="warning" if quiet else "info")
    finally:
        for stop in stops:
            stop.set()


def _serve(trustable: Trustable, host: str, port: int, *, log_level: str) -> None:
    app = create_app(trustable)
    # What start-up loaded lives as long as the service: keep the collector off it,
    # so its full collections stay short and do not land in the middle of requests.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        # Paths carry only opaque ids, but query strings could carry anything.
        access_log=False,
    )
