"""How a witness reads a log: its public tiles over HTTP (`TileReader`'s fetch).

One keep-alive connection pool for every read, and full tiles kept once read: they
never change (c2sp.org/tlog-tiles), so a witness following a growing log fetches
only the few partial tiles at the right edge, and the full ones the new entries
completed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import httpx

TIMEOUT_S = 10.0
KEPT_TILES = 4_096  # 32 MiB of full tiles at most


class TileFetcher:
    def __init__(self) -> None:
        self._client = httpx.Client(timeout=TIMEOUT_S)
        self._full: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, url: str, path: str) -> bytes:
        """`<url>/ledger/<path>`; an answer that is not 200 is an error (OSError), so a
        missing tile is never read as an empty one."""
        key = (url, path)
        with self._lock:
            found = self._full.get(key)
            if found is not None:
                self._full.move_to_end(key)
                return found
        try:
            answer = self._client.get(f"{url}/ledger/{path}")
        except httpx.HTTPError as exc:
            raise OSError(f"GET {path}: {exc.__class__.__name__}") from None
        if answer.status_code != 200:
            raise OSError(f"GET {path} answered {answer.status_code}")
        if ".p/" not in path:
            with self._lock:
                self._full[key] = answer.content
                while len(self._full) > KEPT_TILES:
                    self._full.popitem(last=False)
        return answer.content

    def close(self) -> None:
        self._client.close()
