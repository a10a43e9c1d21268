"""The trust dashboard's figures, as plain frozen dataclasses.

Every figure is a count, a time or a rate across customers: none names or points at
one customer, so any role with the `dashboard` permission may see all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

STATUSES = ("granted", "denied", "withdrawn", "objected")


@dataclass(frozen=True)
class PurposeActivity:
    """Consent decisions recorded for one purpose, per day (aligned with `days`)."""

    purpose: str
    granted: tuple[int, ...]
    denied: tuple[int, ...]
    withdrawn: tuple[int, ...]
    objected: tuple[int, ...]

    def of(self, status: str) -> tuple[int, ...]:
        if status not in STATUSES:
            raise ValueError(f"unknown consent status {status!r}")
        values: tuple[int, ...] = getattr(self, status)
        return values


@dataclass(frozen=True)
class ConsentActivity:
    """Decisions per purpose and UTC day over a range: what a line chart draws."""

    days: tuple[date, ...]
    purposes: tuple[PurposeActivity, ...]

    def total(self, status: str) -> tuple[int, ...]:
        """One status per day across every purpose (grants against withdrawals)."""
        sums = [0] * len(self.days)
        for purpose in self.purposes:
            for i, n in enumerate(purpose.of(status)):
                sums[i] += n
        return tuple(sums)


@dataclass(frozen=True)
class ConsentRate:
    """Where customers stand now on one purpose (their latest decision each)."""

    purpose: str
    needs_consent: bool
    granted: int
    denied: int
    withdrawn: int
    objected: int

    @property
    def decided(self) -> int:
        return self.granted + self.denied + self.withdrawn + self.objected

    @property
    def rate(self) -> float | None:
        """Granted among those who decided; None while nobody has."""
        return self.granted / self.decided if self.decided else None


@dataclass(frozen=True)
class RequestFigures:
    """One kind of request: received and finished within the range, open now."""

    kind: str
    received: int  # received within the range
    completed: int  # done within the range
    refused: int  # refused within the range
    open: int  # not yet done or refused, now
    overdue: int  # open now and past the legal deadline
    median_time_to_complete: timedelta | None  # of those done within the range


@dataclass(frozen=True)
class DropReason:
    """Fields dropped at collection for one reason, since counting began."""

    reason: str
    fields: int  # distinct field paths
    count: int
    last_seen_at: datetime


@dataclass(frozen=True)
class LedgerFigures:
    size: int  # entries in the log now
    heads: int  # signed tree heads
    head_size: int | None  # entries covered by the latest signed head
    head_signed_at: datetime | None
    # The latest head's signature checks out under the ledger's public key, and the
    # stored tree still has the root it signed (a cheap check; `trustable ledger
    # verify` recomputes everything and is not recorded). None without a head.
    head_verified: bool | None
    pending: int = 0  # records being logged: waiting for the sequencer's next round
    oldest_pending_at: datetime | None = None

    @property
    def unsigned(self) -> int:
        """Entries appended since the latest signed head."""
        return self.size - (self.head_size or 0)


@dataclass(frozen=True)
class DeliveryHealth:
    """One destination's outbox, and its erasure and correction notices."""

    destination: str
    queued: int  # waiting for a first attempt
    retrying: int  # failed at least once, will be tried again
    delivered: int
    skipped: int  # nothing the customer allows was left to send
    dead: int  # gave up: shown by the API, retried by hand
    oldest_waiting_since: datetime | None  # the oldest queued or retrying delivery
    last_delivered_at: datetime | None
    notices_pending: int  # erasure or correction notices not yet acknowledged
    notices_dead: int


@dataclass(frozen=True)
class Dashboard:
    start: datetime
    end: datetime
    now: datetime
    customers: int
    consent: ConsentActivity
    rates: tuple[ConsentRate, ...]
    requests: tuple[RequestFigures, ...]
    drops: tuple[DropReason, ...]
    ledger: LedgerFigures
    deliveries: tuple[DeliveryHealth, ...]
