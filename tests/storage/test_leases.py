"""Store-wide jobs run in one process at a time: a lease row claims each."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from trustable.bootstrap import Trustable, bootstrap
from trustable.core.clock import FixedClock
from trustable.core.settings import Settings
from trustable.retention.runner import JOB as RETENTION
from trustable.retention.runner import sweep_all
from trustable.segments.runner import JOB as SEGMENTS
from trustable.segments.runner import refresh_all
from trustable.storage.leases import JobLease


@pytest.fixture
def others(settings: Settings, app: Trustable) -> Iterator[list[Trustable]]:
    """Four more Trustables on the same stores, each with engines of its own: as far
    as the store can tell, four more processes."""
    found = [bootstrap(settings, run_migrations=False) for _ in range(4)]
    yield found
    for other in found:
        other.close()


def test_of_processes_racing_for_one_job_one_holds_it(
    app: Trustable, others: list[Trustable]
) -> None:
    racers = [app, *others]
    start = threading.Barrier(len(racers))
    won: list[bool] = [False] * len(racers)

    def race(n: int) -> None:
        lease = JobLease(racers[n].uow, "job", clock=racers[n].clock)
        start.wait()
        won[n] = lease.claim()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(len(racers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(won) == 1, won


def test_a_lease_is_renewed_by_its_holder_released_and_taken_over_when_it_runs_out(
    app: Trustable, others: list[Trustable]
) -> None:
    clock = FixedClock(app.clock())
    mine = JobLease(app.uow, "job", clock=clock, lease=timedelta(minutes=5))
    theirs = JobLease(others[0].uow, "job", clock=clock, lease=timedelta(minutes=5))
    assert mine.claim() and not theirs.claim()
    clock.now += timedelta(minutes=4)
    assert mine.claim()  # renewed: good for five minutes from now
    clock.now += timedelta(minutes=4)
    assert not theirs.claim()
    clock.now += timedelta(minutes=2)  # the holder stopped renewing (it died)
    assert theirs.claim() and not mine.claim()
    theirs.release()
    assert mine.claim()


def test_a_sweep_and_a_refresh_do_nothing_while_another_process_holds_them(
    app: Trustable, others: list[Trustable]
) -> None:
    held = [JobLease(others[0].uow, job, clock=others[0].clock) for job in (RETENTION, SEGMENTS)]
    for lease in held:
        assert lease.claim()
    report = sweep_all(app)
    assert report.elsewhere and report.customers_scanned == 0
    assert refresh_all(app).elsewhere
    assert not sweep_all(app, dry_run=True).elsewhere  # a dry run changes nothing: no lease
    for lease in held:
        lease.release()
    # Released: taken at once, with no wait for the lease to run out.
    assert not sweep_all(app).elsewhere
    assert not refresh_all(app).elsewhere
