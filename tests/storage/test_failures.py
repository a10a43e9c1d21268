"""Which failures of the store are collisions (start over) and which say it is out of
reach (come back later), and how collisions are retried."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc as sa

from trustable.identity.service import ConcurrentErasure
from trustable.storage.failures import ConcurrentChange, conflicting, retrying, unavailable
from trustable.storage.uow import StoreBusy


class Deadlock(Exception):
    sqlstate = "40P01"


def test_collisions_are_told_apart_from_a_store_out_of_reach() -> None:
    deadlock = sa.OperationalError("INSERT", {}, Deadlock())
    refused = sa.OperationalError("connect", {}, psycopg.OperationalError("refused"))
    duplicate = sa.IntegrityError("INSERT", {}, Exception("duplicate key"))
    assert conflicting(deadlock) and not unavailable(deadlock)
    assert conflicting(duplicate) and conflicting(ConcurrentErasure("gone"))
    assert unavailable(refused) and not conflicting(refused)
    assert unavailable(sa.TimeoutError("the pool had no connection to give"))
    assert unavailable(psycopg.OperationalError("server closed the connection"))
    assert not unavailable(ValueError("a fault")) and not conflicting(ValueError("a fault"))


def test_work_that_collides_is_run_again_until_it_lands() -> None:
    runs: list[int] = []

    def work() -> str:
        runs.append(1)
        if len(runs) < 3:
            raise ConcurrentChange("joined meanwhile")
        return "landed"

    assert retrying(work) == "landed" and len(runs) == 3


def test_work_that_keeps_colliding_answers_busy_and_faults_are_not_retried() -> None:
    runs: list[int] = []

    def colliding() -> None:
        runs.append(1)
        raise ConcurrentChange("joined meanwhile")

    with pytest.raises(StoreBusy):
        retrying(colliding, attempts=3)
    assert len(runs) == 3

    def faulty() -> None:
        runs.append(1)
        raise ValueError("a fault")

    runs.clear()
    with pytest.raises(ValueError):
        retrying(faulty)
    assert len(runs) == 1
