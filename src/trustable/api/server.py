"""Running the app under uvicorn."""

from __future__ import annotations

import uvicorn

from trustable.api.app import create_app
from trustable.bootstrap import Trustable


def run(trustable: Trustable, host: str, port: int) -> None:
    uvicorn.run(
        create_app(trustable),
        host=host,
        port=port,
        log_level="info",
        # Paths carry only opaque ids, but query strings could carry anything.
        access_log=False,
    )
