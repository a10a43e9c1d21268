"""Refreshing every segment: an entry point of its own, which owns its transaction.

Run after each retention sweep (`retention.runner.sweep_all`) and on demand by
`trustable segments refresh`. One unit of work: ageing, consent and removed
segments are settled together with their ledger entries, or not at all.

One process at a time: a refresh claims the job lease `segments-refresh`
(`storage.leases`); one that finds it held does nothing and says so (`elsewhere`).
"""

from __future__ import annotations

from trustable.bootstrap import Trustable
from trustable.segments.service import RefreshReport, refresh
from trustable.storage.leases import JobLease

JOB = "segments-refresh"


def refresh_all(app: Trustable) -> RefreshReport:
    with JobLease(app.uow, JOB, clock=app.clock).held() as mine:
        if not mine:
            return RefreshReport(elsewhere=True)
        with app.uow() as uow:
            report = refresh(uow, app.vault, app.policy, now=app.clock())
            uow.commit()
        return report
