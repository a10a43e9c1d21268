"""Sweeping the whole store: `trustable retention run`, or a thread inside `serve`.

An entry point of its own, like the delivery worker: it owns its transactions. Each
chunk of customers is read in a read-only unit of work (no write lock, so collection
goes on while a sweep reads), and what it found is removed, with its ledger entries,
in one commit of its own; a chunk with nothing expired never opens a write. A chunk
that fails rolls back alone, and the next sweep finds what it left.

Every process that serves the store sweeps on its own schedule, but one at a time:
a sweep claims the job lease `retention` (`storage.leases`) and renews it after each
chunk; a process that finds it held skips its turn (the holder is sweeping now).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from trustable.bootstrap import Trustable
from trustable.core.errors import ConfigurationError
from trustable.portal.service import sweep_links
from trustable.retention.service import (
    CUSTOMERS_PER_CHUNK,
    Retention,
    SweepReport,
    find_expired,
    remove_expired,
)
from trustable.segments.runner import refresh_all as refresh_segments
from trustable.sessions.service import sweep_expired as sweep_sessions
from trustable.storage.leases import JobLease
from trustable.users.throttle import sweep as sweep_sign_in_failures

log = logging.getLogger("trustable.retention")
JOB = "retention"  # the job lease a sweep holds


def sweep_all(
    app: Trustable,
    *,
    dry_run: bool = False,
    limit: int = CUSTOMERS_PER_CHUNK,
    progress: Callable[[SweepReport], None] | None = None,
    stop: threading.Event | None = None,
) -> SweepReport:
    """Sweep every customer, `limit` at a time, committing each chunk (with `dry_run`:
    committing nothing, writing nothing). `progress` gets the running total after
    each chunk; a set `stop` ends the sweep between chunks (the next one starts over).

    A sweep that changes anything holds the job lease: when another process holds
    it, nothing is done and the report says `elsewhere`.
    """
    if dry_run:
        return _sweep(app, dry_run=True, limit=limit, progress=progress, stop=stop)
    lease = JobLease(app.uow, JOB, clock=app.clock)
    with lease.held() as mine:
        if not mine:
            return SweepReport(elsewhere=True)
        return _sweep(app, dry_run=False, limit=limit, progress=progress, stop=stop, lease=lease)


def _sweep(
    app: Trustable,
    *,
    dry_run: bool,
    limit: int,
    progress: Callable[[SweepReport], None] | None,
    stop: threading.Event | None,
    lease: JobLease | None = None,
) -> SweepReport:
    rules = Retention(app.policy, app.clock())  # one `now` for the whole sweep
    total = SweepReport(dry_run=dry_run)
    after = ""
    while stop is None or not stop.is_set():
        if lease is not None and not lease.claim():  # renewed; lost if it ran out
            log.warning("retention sweep stopped: its lease passed to another process")
            total.elsewhere = True
            return total
        with app.reader() as uow:
            found = find_expired(uow, rules, after=after, limit=limit)
        if found.empty:
            part = SweepReport.of(found, dry_run=dry_run)
        elif dry_run:
            with app.reader() as uow:
                part = remove_expired(uow, app.vault, rules, found, dry_run=True)
        else:
            with app.uow() as uow:
                part = remove_expired(uow, app.vault, rules, found)
                uow.commit()
        total.absorb(part)
        if progress is not None:
            progress(total)
        if found.next_after is None:
            break
        after = found.next_after
    if not dry_run:
        # Sign-in links and sessions past their time, and console sign-in failures
        # past their window: they open (or block) nothing any more, and what does
        # nothing is not kept either.
        with app.uow() as uow:
            sweep_sessions(uow, rules.now)
            sweep_links(uow, rules.now)
            sweep_sign_in_failures(uow, rules.now)
            uow.commit()
        # Segments age with the data: hits past their window go, and members whose
        # consent no longer holds leave.
        refresh_segments(app)
    return total


@dataclass
class Sweeper:
    """Sweeps at start and then every `every` seconds, until told to stop.

    At start as well: a service restarted more often than every `every` seconds must
    still sweep. Logs counts only: no customer, category value or field name.
    """

    app: Trustable
    every: float

    def run_once(self, stop: threading.Event | None = None) -> SweepReport:
        report = sweep_all(self.app, stop=stop)
        if report.elsewhere:
            log.info("retention sweep skipped: another process is sweeping")
            return report
        log.info(
            "retention sweep: %d events deleted, %d trimmed, %d traits deleted, "
            "%d of %d customers affected, %d without a key skipped",
            report.events_deleted,
            report.events_trimmed,
            report.traits_deleted,
            report.customers_affected,
            report.customers_scanned,
            report.customers_skipped,
        )
        return report

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_once(stop)
            except Exception as exc:  # keep sweeping on later rounds; log no data
                log.error("retention sweep failed: %s", exc.__class__.__name__)
            stop.wait(self.every)


def start_in_background(
    app: Trustable, every: float | None = None
) -> tuple[threading.Thread, threading.Event]:
    """Start sweeping in a daemon thread, every `every` seconds (by default the
    `TRUSTABLE_RETENTION_HOURS` setting); set the returned event to stop it."""
    interval = app.settings.retention_hours * 3600 if every is None else every
    if interval <= 0:
        raise ConfigurationError("retention sweeps need an interval above zero")
    stop = threading.Event()
    sweeper = Sweeper(app, interval)
    thread = threading.Thread(
        target=sweeper.run_forever, args=(stop,), name="trustable-retention", daemon=True
    )
    thread.start()
    return thread, stop
