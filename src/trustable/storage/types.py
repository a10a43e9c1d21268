"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time, always stored in UTC and always read back timezone-aware.

    PostgreSQL stores a `timestamptz`. SQLite keeps no offset, so there the value is
    written as UTC text (`2026-11-23 09:30:00.000000`, which sorts in time order) by
    this type itself, faster than SQLAlchemy's generic conversion on the hot path.
    Naive input is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True
    # The last conversion: a batch stamps hundreds of rows with the same `now`.
    # Datetimes are immutable, so the same object always converts the same way.
    _last: tuple[datetime | None, str, Any] = (None, "", None)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        last = self._last
        if last[0] is value and last[1] == dialect.name:
            return last[2]
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a timezone")
        utc = value.astimezone(UTC)
        out: Any = utc
        if dialect.name == "sqlite":
            out = utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        self._last = (value, dialect.name, out)
        return out

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, one tight function per value: a read of a thousand events
        would otherwise spend more time here than in SQLite."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def utc(value: str | None) -> datetime | None:
            if value is None:
                return None
            if len(value) == 26:  # as written above: parsing an offset beats .replace()
                return parse(value + "+00:00")
            moment = parse(value)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
