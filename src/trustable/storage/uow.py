"""The unit of work: one transaction that the entry point owns.

Services receive a `UnitOfWork` and run their statements on `uow.connection`; they
never commit. The entry point (an HTTP route, a CLI command) decides: `uow.commit()`
when the whole piece of work succeeded, and leaving the block without it rolls
everything back, so a piece of work and its records land together or not at all.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine


class UnitOfWork:
    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self.read_only = read_only
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._connection

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __enter__(self) -> UnitOfWork:
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
