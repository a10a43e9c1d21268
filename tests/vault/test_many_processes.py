"""A data key destroyed by one process stops opening anything in every other within
`KEY_CHANGES_EVERY` seconds, although the others had it opened in memory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import cli_env
from trustable.bootstrap import Trustable
from trustable.core.settings import Settings
from trustable.storage.changes import KEPT, Follower, record_changes
from trustable.storage.engine import make_engine
from trustable.vault.service import KEY_CHANGES_EVERY, KeyMissing, Vault
from trustable.vault.tables import key_changes

# Another process: opens the vault, opens the sealed value once (its key is cached
# from then on), then answers each line on stdin with whether it still opens.
OTHER = textwrap.dedent(
    """
    import sys
    from trustable.bootstrap import bootstrap
    from trustable.vault.service import KeyMissing
    app = bootstrap(run_migrations=False)
    sealed = bytes.fromhex(sys.argv[1])
    print(app.vault.decrypt("cus_ada", "trait:email", sealed).decode(), flush=True)
    for line in sys.stdin:
        try:
            app.vault.decrypt("cus_ada", "trait:email", sealed)
            print("opens", flush=True)
        except KeyMissing:
            print("missing", flush=True)
    """
)


def test_a_key_destroyed_here_stops_opening_in_another_process(
    app: Trustable, settings: Settings
) -> None:
    app.vault.create_keys(["cus_ada"])
    sealed = app.vault.encrypt("cus_ada", "trait:email", b"ada@example.org")
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER, sealed.hex()],
        env={**os.environ, **cli_env(settings)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdin is not None and other.stdout is not None
    try:
        assert other.stdout.readline().strip() == "ada@example.org"
        other.stdin.write("?\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "opens"

        assert app.vault.destroy_key("cus_ada")
        destroyed = time.monotonic()
        answer = "opens"
        while answer == "opens" and time.monotonic() - destroyed < 5:
            other.stdin.write("?\n")
            other.stdin.flush()
            answer = other.stdout.readline().strip()
        taken = time.monotonic() - destroyed
        assert answer == "missing"
        assert taken < KEY_CHANGES_EVERY + 0.5, taken
    finally:
        other.stdin.close()
        other.wait(timeout=15)
        other.stdout.close()


def test_a_key_read_while_another_process_destroys_it_is_not_kept(
    app: Trustable, settings: Settings
) -> None:
    """The race a cache can lose: a key read from the store just before another
    process destroyed it, and cached just after the log told of it, would stay."""
    other = Vault(make_engine(settings.keystore_url), _master(settings)).open()
    try:
        app.vault.create_keys(["cus_ada"])
        sealed = app.vault.encrypt("cus_ada", "f", b"x")
        opened = other._open_wrapped

        def destroyed_meanwhile(customer_id: str, wrapped: bytes, master_id: str | None) -> Any:
            # Read from the store; before it is cached, the key is destroyed elsewhere
            # and this process reads the log (as another of its threads would).
            app.vault.destroy_key(customer_id)
            other._forget_many([customer_id])
            return opened(customer_id, wrapped, master_id)

        other._open_wrapped = destroyed_meanwhile  # type: ignore[method-assign]
        assert other.decrypt("cus_ada", "f", sealed) == b"x"  # read before it went
        other._open_wrapped = opened  # type: ignore[method-assign]
        with pytest.raises(KeyMissing):
            other.decrypt("cus_ada", "f", sealed)
        assert other.cached_keys == 0
    finally:
        other.engine.dispose()


def _master(settings: Settings) -> bytes:
    from trustable.vault.master import load_or_create_master_key

    return load_or_create_master_key(settings.master_key, settings.master_key_file)


def test_the_change_log_keeps_its_newest_row_and_numbers_in_order(app: Trustable) -> None:
    now = app.clock()
    with app.key_engine.begin() as conn:
        record_changes(conn, key_changes, ["a", "b"], now=now - 2 * KEPT)
    with app.key_engine.begin() as conn:
        record_changes(conn, key_changes, ["c"], now=now)
    with app.key_engine.connect() as conn:
        rows = conn.execute(select(key_changes.c.seq, key_changes.c.subject)).all()
        assert [tuple(r) for r in rows] == [(3, "c")]  # pruned, numbering went on
    with app.key_engine.begin() as conn:
        record_changes(conn, key_changes, ["d"], now=now + 2 * KEPT)
    with app.key_engine.connect() as conn:
        assert conn.execute(select(func.max(key_changes.c.seq))).scalar_one() == 4
        assert conn.execute(select(func.count()).select_from(key_changes)).scalar_one() == 1


def test_a_follower_reads_at_most_every_interval_and_hands_on_what_changed(
    app: Trustable,
) -> None:
    seen: list[list[str]] = []
    follower = Follower(
        app.key_engine, key_changes, every=0.2, forget=seen.append, forget_all=lambda: None
    )
    follower.check()  # starts from the end of the log
    with app.key_engine.begin() as conn:
        record_changes(conn, key_changes, ["a", "b"], now=app.clock())
    follower.check()  # read less than `every` ago: not read again yet
    assert seen == []
    time.sleep(0.25)
    follower.check()
    assert seen == [["a", "b"]]
    time.sleep(0.25)
    follower.check()
    assert seen == [["a", "b"]]  # nothing new


def test_processes_making_a_destination_secret_at_once_all_get_the_same_one(
    app: Trustable, settings: Settings
) -> None:
    others = [Vault(make_engine(settings.keystore_url), _master(settings)).open() for _ in range(4)]
    try:
        start = threading.Barrier(len(others))
        found: list[bytes] = [b""] * len(others)

        def make(n: int) -> None:
            start.wait()
            found[n] = others[n].destination_secret("warehouse")

        threads = [threading.Thread(target=make, args=(n,)) for n in range(len(others))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(found)) == 1 and len(found[0]) == 32
        assert app.vault.destination_secret("warehouse") == found[0]
    finally:
        for other in others:
            other.engine.dispose()
