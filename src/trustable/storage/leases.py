"""Store-wide jobs that one process at a time runs: claimed with a lease row.

Several processes (and hosts) may serve one store, and each starts the same
background jobs (the retention sweep, the segment refresh that follows it). A job
that two processes run at once does its work twice and races itself, so each run
claims the job's row in `job_leases` first: the claim succeeds when nobody holds it,
or the holder's lease ran out (the holder died, or stopped renewing). The holder
renews it as it goes and releases it when done. The same on SQLite and PostgreSQL,
and it survives a lost connection, where a session-held advisory lock would not.

Jobs whose units carry their own leases (deliveries: `destinations.service.claim`)
need no job lease: several workers share the work instead of taking turns.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Column, String, Table, and_, or_, update

from trustable.core.clock import Clock
from trustable.storage.metadata import data_metadata
from trustable.storage.types import UtcDateTime
from trustable.storage.uow import UnitOfWork
from trustable.storage.upsert import insert_for

JOB_LEASE = timedelta(minutes=5)  # a holder that stops renewing loses the job after this

job_leases = Table(
    "job_leases",
    data_metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)


def new_holder() -> str:
    """Who claims: this process, and a random part (threads and hosts differ)."""
    return f"pid{os.getpid()}-{secrets.token_hex(6)}"


def claim(uow: UnitOfWork, name: str, holder: str, *, now: datetime, lease: timedelta) -> bool:
    """Take or renew the job `name` until `now + lease`; False when another holder's
    lease still runs. The caller commits."""
    conn = uow.connection
    until = now + lease
    taken = conn.execute(
        update(job_leases)
        .where(
            job_leases.c.name == name,
            or_(job_leases.c.holder == holder, job_leases.c.expires_at <= now),
        )
        .values(holder=holder, expires_at=until)
    )
    if taken.rowcount:
        return True
    # The job's first claim ever: of racing first claims, one inserts, the others
    # find the row there and lose.
    made = conn.execute(
        insert_for(uow, job_leases)
        .values(name=name, holder=holder, expires_at=until)
        .on_conflict_do_nothing()
        .returning(job_leases.c.name)
    )
    return made.first() is not None


def release(uow: UnitOfWork, name: str, holder: str, *, now: datetime) -> None:
    """Give the job up at once, so the next claim need not wait for the lease to end."""
    uow.connection.execute(
        update(job_leases)
        .where(and_(job_leases.c.name == name, job_leases.c.holder == holder))
        .values(expires_at=now)
    )


class JobLease:
    """One job's lease as one process holds it: claimed, renewed, released, each in a
    short transaction of its own (`uow` opens a writing unit of work)."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        name: str,
        *,
        clock: Clock,
        lease: timedelta = JOB_LEASE,
    ) -> None:
        self._uow = uow
        self.name = name
        self.holder = new_holder()
        self._clock = clock
        self.lease = lease

    def claim(self) -> bool:
        """Take the job, or keep it (a renewal); False when another process holds it."""
        with self._uow() as uow:
            taken = claim(uow, self.name, self.holder, now=self._clock(), lease=self.lease)
            uow.commit()
        return taken

    def release(self) -> None:
        with self._uow() as uow:
            release(uow, self.name, self.holder, now=self._clock())
            uow.commit()

    @contextmanager
    def held(self) -> Iterator[bool]:
        """`with lease.held() as mine:` runs the block either way; `mine` says whether
        this process holds the job (if so, it is released after the block)."""
        mine = self.claim()
        try:
            yield mine
        finally:
            if mine:
                self.release()
