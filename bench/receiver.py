"""A fast destination on loopback, as its own process: `python -m bench.receiver PORT`.

The delivery benchmark measures the worker, not the receiver, so this one does as
little as it can: a bare ASGI app under uvicorn (uvloop, httptools when installed)
that answers every POST with 200 and counts it, with its Idempotency-Key, so the
benchmark can check that every delivery marked delivered really arrived (and none
twice). It runs in a process of its own so it never shares the worker's interpreter
lock, as a real receiver never would. `GET /count` answers the counts as JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import uvicorn

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_posts = 0
_bytes = 0
_keys: set[bytes] = set()


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Count a POST (reading its whole body first, as a real receiver would)."""
    global _posts, _bytes
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        more = True
        while more:
            message = await receive()
            _bytes += len(message.get("body", b""))
            more = message.get("more_body", False)
        _posts += 1
        for name, value in scope["headers"]:
            if name == b"idempotency-key":
                _keys.add(value)
        body = b"{}"
    else:
        body = orjson.dumps({"posts": _posts, "keys": len(_keys), "bytes": _bytes})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
