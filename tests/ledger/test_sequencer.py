"""The sequencer: submitted records wait as pending, then get dense indices, once each.

Writers submit without any lock on the tree; one sequencer at a time (or several by
mistake) moves pending records into the log in batches; a pending record counts
against the maximum merge delay until it has its index.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import select

from tests.helpers import cli_env, msg, send
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings
from trustable.identity.service import find_customer
from trustable.ledger import service as ledger
from trustable.ledger.sequencer import (
    AdvisoryLeadership,
    FileLeadership,
    Sequencer,
    due,
    flush,
    leadership,
    lock_key,
)
from trustable.ledger.sequencing import oldest_pending, pending_count, sequence
from trustable.ledger.tables import ledger_entries
from trustable.ledger.verify import Verification, verify

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def submit(app: Trustable, count: int, *, tag: str, now: datetime = NOW) -> None:
    records = [
        ledger.Record("collect", None, "key_test", {"tag": tag, "n": n}) for n in range(count)
    ]
    with app.uow() as uow:
        ledger.submit(uow, app.vault, records, now=now)
        uow.commit()


def markers(app: Trustable) -> Counter[tuple[str, int]]:
    """(tag, n) of every entry in the log: each submitted record must appear once."""
    with app.reader() as uow:
        bodies = uow.connection.execute(select(ledger_entries.c.body)).scalars()
        found: Counter[tuple[str, int]] = Counter()
        for body in bodies:
            detail = orjson.loads(body)["detail"]
            if "tag" in detail:
                found[(detail["tag"], detail["n"])] += 1
    return found


def intact(app: Trustable) -> Verification:
    with app.reader() as uow:
        return verify(uow, app.vault.public_key(), now=app.clock(), max_delay=30)


def test_a_submitted_record_waits_as_pending_then_gets_the_next_index(app: Trustable) -> None:
    send(app, msg("identify", "u1", traits={"plan": "pro"}))
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", "u1")
        assert customer is not None
        assert ledger.tree_size(uow) == 0  # collection took no lock on the tree
        pending = ledger.customer_pending(uow, customer)
    assert [p.kind for p in pending] == ["collect"]
    assert "i" not in pending[0].content()

    done = flush(app)

    assert (done.sequenced, done.size, done.signed) == (1, 1, True)
    with app.reader() as uow:
        assert ledger.customer_pending(uow, customer) == []
        [entry] = ledger.customer_entries(uow, customer)
        assert pending_count(uow) == 0
    body = entry.content()
    assert body["i"] == 0 and body["kind"] == "collect"
    # The entry is the pending record with its index: nothing else changed.
    assert {k: v for k, v in body.items() if k != "i"} == pending[0].content()
    assert intact(app).ok


def test_records_submitted_side_by_side_are_each_sequenced_once(app: Trustable) -> None:
    """Writers in several threads submit while sequencing runs: every record gets
    exactly one index, the indices are dense and the tree checks."""
    stop = threading.Event()
    sequenced_some = threading.Event()
    rounds: list[int] = []

    def sequencing() -> None:
        while not stop.is_set():
            rounds.append(flush(app, batch=37).sequenced)
            if rounds[-1]:
                sequenced_some.set()

    def writer(tag: str) -> None:
        for round_ in range(10):
            submit(app, 20, tag=f"{tag}.{round_}")
            if round_ == 0:  # the rest is written while sequencing has begun, however
                sequenced_some.wait(timeout=60)  # busy the machine is

    sequencer = threading.Thread(target=sequencing)
    sequencer.start()
    writers = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    sequencer.join()
    flush(app)

    found = markers(app)
    assert len(found) == 4 * 10 * 20 and set(found.values()) == {1}
    assert sum(rounds) > 0  # sequencing ran while writers wrote
    result = intact(app)
    assert result.ok, result.problem
    assert result.entries == 800


def test_two_sequencers_at_once_never_give_an_index_twice(settings: Settings) -> None:
    """Leadership keeps a second sequencer idle, but correctness does not rest on it:
    two processes' sequencers racing on one store still give each record one index."""
    first = bootstrap(settings)
    second = bootstrap(settings, run_migrations=False)
    try:
        submit(first, 3000, tag="race")
        outcomes: list[int] = []

        def race(app: Trustable) -> None:
            outcomes.append(flush(app, batch=250).sequenced)

        threads = [threading.Thread(target=race, args=(a,)) for a in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(outcomes) == 3000
        found = markers(first)
        assert len(found) == 3000 and set(found.values()) == {1}
        assert intact(first).ok
    finally:
        second.close()
        first.close()


_KILLED_SEQUENCER = """
import sys, time
from sqlalchemy import event
from trustable.bootstrap import bootstrap
from trustable.ledger.sequencer import flush
app = bootstrap(run_migrations=False)
if sys.argv[1] == "mid-batch":
    # Stop inside the batch's transaction: entries written, pending records deleted,
    # nothing committed: where a kill does the most harm if anything can.
    @event.listens_for(app.engine, "after_cursor_execute")
    def _stop(conn, cursor, statement, params, context, executemany):
        if statement.startswith("DELETE FROM ledger_pending"):
            print("mid-batch", flush=True)
            time.sleep(60)
print("go", flush=True)
flush(app, batch=4000)
print("done", flush=True)
"""


def test_a_sequencer_killed_mid_batch_loses_nothing(settings: Settings, app: Trustable) -> None:
    """kill -9 inside a batch's transaction, and at a random moment of a run: what was
    written rolls back whole, and the next sequencer gives every record its one index."""
    env = {**os.environ, **cli_env(settings)}
    picker = random.Random(17)
    for round_, mode in enumerate(("mid-batch", "mid-batch", "random")):
        submit(app, 6000, tag=f"k{round_}")
        child = subprocess.Popen(
            [sys.executable, "-c", _KILLED_SEQUENCER, mode],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "go"
        if mode == "mid-batch":
            assert child.stdout.readline().strip() == "mid-batch"
        else:
            time.sleep(picker.uniform(0.0, 0.2))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        if mode == "mid-batch":
            assert child.returncode == -signal.SIGKILL
            with app.reader() as uow:  # the killed batch left nothing behind
                assert pending_count(uow) == 6000
        flush(app)
        found = markers(app)
        assert len(found) == 6000 * (round_ + 1) and set(found.values()) == {1}
        result = intact(app)
        assert result.ok, result.problem


def test_verify_fails_when_a_record_waits_past_the_maximum_merge_delay(app: Trustable) -> None:
    submit(app, 3, tag="late", now=app.clock() - timedelta(seconds=45))
    with app.reader() as uow:
        assert oldest_pending(uow) is not None
        result = verify(uow, app.vault.public_key(), now=app.clock(), max_delay=30)
        # Younger than the promise: not a failure yet.
        assert verify(uow, app.vault.public_key(), now=app.clock(), max_delay=60).ok
    assert not result.ok
    assert result.problem is not None
    assert "3 record(s) are still pending" in result.problem
    assert "maximum merge delay of 30 s" in result.problem

    flush(app)
    assert intact(app).ok


def test_an_erased_customers_pending_records_lose_their_look_up(app: Trustable) -> None:
    send(app, msg("identify", "gone", traits={"plan": "pro"}))
    with app.reader() as uow:
        customer = find_customer(uow, app.vault, "user_id", "gone")
    assert customer is not None
    with app.uow() as uow:
        ledger.forget_customer(uow, customer)
        uow.commit()
    flush(app)
    with app.reader() as uow:
        assert ledger.customer_entries(uow, customer) == []
        assert ledger.tree_size(uow) == 1  # the entry stays, pseudonymous


def test_a_merge_moves_pending_records_with_the_history_they_came_from(app: Trustable) -> None:
    send(app, msg("identify", "winner", traits={"plan": "pro"}))
    send(app, msg("identify", "loser", traits={"plan": "free"}))
    with app.reader() as uow:
        winner = find_customer(uow, app.vault, "user_id", "winner")
        loser = find_customer(uow, app.vault, "user_id", "loser")
    assert winner is not None and loser is not None
    with app.uow() as uow:
        ledger.move_entries(uow, winner, loser)
        uow.commit()
    with app.reader() as uow:
        assert len(ledger.customer_pending(uow, winner)) == 2
    flush(app)
    with app.reader() as uow:
        histories = uow.connection.execute(
            select(ledger_entries.c.history).where(ledger_entries.c.customer_id == winner)
        ).scalars()
        assert sorted(h or "" for h in histories) == ["", loser]


def test_a_round_with_nothing_pending_writes_nothing(app: Trustable) -> None:
    with app.uow() as uow:
        done = sequence(uow)
        uow.commit()
    assert (done.sequenced, done.size) == (0, 0)
    assert flush(app).signed is True  # the empty log's first head
    assert flush(app).signed is False  # and nothing new since


def test_a_round_is_due_only_when_a_record_waits_or_the_log_outgrew_its_head(
    app: Trustable,
) -> None:
    flush(app)  # the empty log's first head
    assert not due(app)
    submit(app, 2, tag="due")
    assert due(app)
    flush(app)
    assert not due(app)
    # An entry appended at once (an export's receipt) still needs a head covering it.
    with app.uow() as uow:
        ledger.append(uow, app.vault, [ledger.Record("export", None, "key_test", {})], now=NOW)
        uow.commit()
    assert due(app)
    flush(app)
    assert not due(app)


def test_an_idle_round_only_reads_so_it_never_waits_for_a_writer(app: Trustable) -> None:
    """Once a second every serving process's sequencer looks for work: with none, it
    must not take the write lock (SQLite) or the tree size's lock (PostgreSQL), which
    every collecting request, and every `append`, needs."""
    flush(app)
    runner = Sequencer(app)
    with app.uow() as writer:
        ledger.locked_state(writer)  # a writer holding the tree size, as `append` does
        idle = threading.Thread(target=runner._round)
        idle.start()
        idle.join(timeout=5)
        assert not idle.is_alive()
    assert runner.rounds == 1


def test_one_sequencer_leads_at_a_time(app: Trustable, settings: Settings) -> None:
    """The lead passes on only when the leader lets go (or dies: its session or file
    handle closes, which lets go the same way)."""
    other = bootstrap(settings, run_migrations=False)
    try:
        first, second = leadership(app), leadership(other)
        assert first.acquire()
        assert first.acquire()  # still the leader
        assert not second.acquire()
        first.release()
        assert second.acquire()
        assert not first.acquire()
        second.release()
    finally:
        other.close()


def test_stores_in_other_schemas_have_sequencers_of_their_own() -> None:
    assert lock_key("t_one") != lock_key("t_two")
    assert lock_key(None) == lock_key(None)


def test_file_leadership_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    path = tmp_path / "data.db.sequencer"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"f = open({str(path)!r}, 'ab'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    mine = FileLeadership(path)
    assert not mine.acquire()
    holder.kill()
    holder.wait(timeout=10)
    holder.stdout.close()
    assert mine.acquire()
    mine.release()


def test_advisory_leadership_is_released_when_its_session_ends(
    postgres_settings: Settings,
) -> None:
    first = bootstrap(postgres_settings)
    second = bootstrap(postgres_settings, run_migrations=False)
    try:
        lead = AdvisoryLeadership(first)
        assert lead.acquire()
        assert not AdvisoryLeadership(second).acquire()
        assert lead._conn is not None
        # The leader's session dies (as with kill -9 of its process).
        with second.engine.connect() as conn:
            pid = lead._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            conn.commit()
        deadline = time.monotonic() + 10
        taken = AdvisoryLeadership(second)
        while not taken.acquire():
            assert time.monotonic() < deadline, "the lead was never released"
            time.sleep(0.05)
        assert not lead.acquire()  # the old leader finds out it no longer leads
        taken.release()
    finally:
        second.close()
        first.close()
