"""How a store can fail, and which of its failures are worth another try.

Two kinds matter to every entry point:

- *conflicts*: two pieces of work decided on the same rows at once, and the store
  refused one of them (a unique index, a deadlock, a serialization failure), or the
  work found that rows it decided on were changed under it (`ConcurrentChange`).
  Starting the work over from the top is correct: it then sees what the other one
  committed. `retrying` does that a few times before answering "busy".
- *unavailability*: the store cannot be reached or dropped the connection (the server
  restarted, the network failed, the pool had no connection to give in time). Retrying
  at once does not help; the caller is told to come back in a few seconds (HTTP 503
  with `Retry-After`), and the pool reconnects by itself when the store is back
  (`pool_pre_ping`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc as sa

from trustable.core.errors import TrustableError
from trustable.storage.uow import StoreBusy

T = TypeVar("T")
log = logging.getLogger("trustable.storage")

# What a 503 answer asks the client to wait, in seconds: long enough for a restarted
# database or a failover to come back, short enough that an SDK's queue keeps moving.
RETRY_AFTER_SECONDS = 2
CONFLICT_ATTEMPTS = 6

# PostgreSQL's "try again" states: deadlock detected, serialization failure.
_RETRYABLE_STATES = frozenset({"40P01", "40001"})


class StoreUnavailable(TrustableError):
    """The data store could not be reached or dropped the connection."""

    code = "store_unavailable"
    status = 503


class ConcurrentChange(TrustableError):
    """Rows this work decided on were changed by other work committed meanwhile (a
    history joined into another, a customer erased): the work starts over."""

    code = "concurrent_change"
    status = 503


def _sqlstate(error: BaseException) -> str | None:
    original = getattr(error, "orig", None) or error
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state if isinstance(state, str) else None


def conflicting(error: BaseException) -> bool:
    """True when `error` says the work collided with concurrent work (retry it)."""
    if isinstance(error, ConcurrentChange | sa.IntegrityError):
        return True
    return isinstance(error, sa.DBAPIError) and _sqlstate(error) in _RETRYABLE_STATES


def unavailable(error: BaseException) -> bool:
    """True when `error` says the store is out of reach (not a collision, not a bug)."""
    if conflicting(error):
        return False
    if isinstance(error, sa.OperationalError | sa.InterfaceError | sa.DisconnectionError):
        return True
    if isinstance(error, sa.TimeoutError):  # the pool had no connection to give
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


def retrying(work: Callable[[], T], *, attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run `work` (one whole unit of work, committed inside) again while it collides
    with concurrent work, after a short random pause that grows each time; `StoreBusy`
    when it still collides after `attempts` runs.

    Each run must start from nothing: a rolled-back run leaves no trace, so running it
    again cannot store anything twice.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as error:
            if not conflicting(error):
                raise
            log.info("collided with concurrent work (%s): starting over", type(error).__name__)
            if attempt == attempts:
                raise StoreBusy("the store is busy with other writes; try again shortly") from None
        time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")
