"""Posting deliveries over HTTP/1.1 keep-alive connections, one set per sending thread.

The worker posts one small signed body per delivery, thousands a second, so the
client's own cost per request is what bounds it. This uses the standard library's
`http.client` directly: on loopback it costs about a quarter of the CPU time per
post that `httpx.Client` does, and threads sharing one `httpx.Client` contend on its
pool, while here each sending thread keeps its own connections. What a general
client adds and a webhook does not need (redirects, proxies, cookies) is left out
on purpose: a delivery is never redirected.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 64 * 1024  # a receiver's answer is read up to this, then dropped


@dataclass(frozen=True)
class Target:
    """Where a destination's deliveries go, parsed once from its URL."""

    scheme: str
    host: str
    port: int
    path: str
    timeout: float


@lru_cache(maxsize=256)
def target(url: str, timeout: float) -> Target:
    """Where `url` points, parsed once rather than once per delivery."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a destination URL must be http:// or https:// with a host")
    port = parts.port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, parts.hostname, port, path, timeout)


class Sender:
    """Posts bodies and says how it went, as a short reason that never holds a value."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []
        self._tls = ssl.create_default_context()

    def post(self, target: Target, body: bytes, headers: dict[str, str]) -> str | None:
        """None on a 2xx answer; otherwise why not ("timeout", "HTTP 500", …)."""
        for attempt in (1, 2):
            conn, reused = self._connection(target)
            try:
                if conn.sock is None:
                    try:
                        conn.connect()
                    except TimeoutError:
                        self._drop(target, conn)
                        return "timeout"
                    except OSError:
                        self._drop(target, conn)
                        return "connection refused or unreachable"
                conn.request("POST", target.path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read(MAX_ANSWER_BYTES)
                if not answer.isclosed():  # more than we read: do not reuse this one
                    self._drop(target, conn)
                status = answer.status
            except (ConnectionResetError, BrokenPipeError) as exc:
                self._drop(target, conn)
                # A kept-alive connection the receiver had closed while idle: the
                # request never reached it, so send it once more on a fresh one.
                if reused and attempt == 1:
                    continue
                return f"transport error ({exc.__class__.__name__})"
            except TimeoutError:
                self._drop(target, conn)
                return "timeout"
            except (http.client.HTTPException, OSError) as exc:
                self._drop(target, conn)
                return f"transport error ({exc.__class__.__name__})"
            if 200 <= status < 300:
                return None
            return f"HTTP {status}"
        return "transport error (connection closed)"  # pragma: no cover - loop returns

    def close(self) -> None:
        with self._lock:
            opened, self._open = self._open, []
        for conn in opened:
            conn.close()

    def _connection(self, target: Target) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection for `target`, and whether it was used before."""
        pool: dict[Target, http.client.HTTPConnection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        conn = pool.get(target)
        if conn is not None and conn.sock is not None:
            return conn, True
        if conn is None:
            conn = self._new(target)
            pool[target] = conn
            with self._lock:
                self._open.append(conn)
        return conn, False

    def _new(self, target: Target) -> http.client.HTTPConnection:
        if target.scheme == "https":
            return http.client.HTTPSConnection(
                target.host, target.port, timeout=target.timeout, context=self._tls
            )
        return http.client.HTTPConnection(target.host, target.port, timeout=target.timeout)

    def _drop(self, target: Target, conn: http.client.HTTPConnection) -> None:
        conn.close()
        pool: dict[Target, http.client.HTTPConnection] = self._local.pool
        pool.pop(target, None)
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
