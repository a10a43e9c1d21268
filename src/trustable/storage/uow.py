"""The unit of work: one transaction that the entry point owns.

Services receive a `UnitOfWork` and run their statements on `uow.connection`; they
never commit. The entry point (an HTTP route, a CLI command) decides: `uow.commit()`
when the whole piece of work succeeded, and leaving the block without it rolls
everything back, so a piece of work and its records land together or not at all.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType

from sqlalchemy import Connection, Engine

from trustable.core.errors import TrustableError


class StoreBusy(TrustableError):
    """The store stayed locked by other work for too long; try again."""

    code = "store_busy"
    status = 503


class WriterLock:
    """One writer at a time, in arrival order, for a store that allows only one.

    Gives up after `timeout` seconds with `StoreBusy` rather than wait for ever (a
    writer that opened a second writer in the same thread would otherwise hang).
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout

    def __enter__(self) -> WriterLock:
        if not self._lock.acquire(timeout=self._timeout):
            raise StoreBusy("the store is busy with other writes; try again shortly")
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class UnitOfWork:
    def __init__(
        self,
        engine: Engine,
        *,
        read_only: bool = False,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.engine = engine
        self.read_only = read_only
        self._lock = lock if lock is not None else nullcontext()
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._connection

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def distributed(self) -> bool:
        """Whether the store is a Citus cluster, where row locks and some statements
        must name one customer at a time (asked once per database connection)."""
        if self.dialect != "postgresql":
            return False
        info = self.connection.info
        if "citus" not in info:
            from trustable.storage.citus import is_citus

            info["citus"] = is_citus(self.connection)
        return bool(info["citus"])

    def __enter__(self) -> UnitOfWork:
        self._lock.__enter__()
        try:
            return self._open()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def _open(self) -> UnitOfWork:
        connection = self.engine.connect()
        if self.read_only:
            connection = connection.execution_options(read_only=True)
        self._connection = connection
        connection.begin()
        return self

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self.connection
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            connection.close()
            self._connection = None
            self._lock.__exit__(exc_type, exc, tb)
