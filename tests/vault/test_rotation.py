"""Rotating the master key: every wrapped key moves, no data does, and a stop half-way
loses nothing."""

from __future__ import annotations

import os
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, select
from typer.testing import CliRunner

from tests.helpers import cli_env, msg, raw_dump
from trustable.bootstrap import Trustable, bootstrap
from trustable.cli.main import app as cli
from trustable.core.errors import VaultError
from trustable.core.settings import Settings
from trustable.events.segment import parse_batch
from trustable.events.service import customer_events, customer_traits, ingest
from trustable.identity.service import find_customer
from trustable.storage.engine import make_engine
from trustable.storage.migrate import upgrade
from trustable.storage.types import UtcDateTime
from trustable.vault.master import (
    MasterKey,
    create_key_file,
    decode_key,
    encode_key,
    load_or_create_master_key,
    master_id,
    next_key_file,
)
from trustable.vault.rotation import rotate, rotate_master_key
from trustable.vault.service import CHECK_PLAINTEXT, ROTATION_TARGET, Vault, secret_aad
from trustable.vault.tables import customer_keys, vault_secrets

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DESTINATION = "warehouse"
WRONG_KEY = "master key does not open this key store"


class Interrupted(Exception):
    """Stands for a crash, a Ctrl-C or a lost connection in the middle of a rotation."""


def stop_after_first_chunk(done: int) -> None:
    raise Interrupted(f"stopped after {done} rows")


@contextmanager
def opened(settings: Settings) -> Iterator[Trustable]:
    trustable = bootstrap(settings, clock=lambda: NOW)
    try:
        yield trustable
    finally:
        trustable.close()


def with_key(settings: Settings, key: bytes) -> Settings:
    return replace(settings, master_key=encode_key(key))


def current_key(settings: Settings) -> bytes:
    assert settings.master_key
    return decode_key(settings.master_key, origin="test")


def collect(app: Trustable, *users: str) -> None:
    """Each user identifies with an email and completes an order, through collection."""
    messages = []
    for user in users:
        messages.append(msg("identify", user, traits={"email": f"{user}@example.org"}))
        messages.append(msg("track", user, event="Order Completed", properties={"order_id": user}))
    batch = parse_batch({"batch": messages}, single_type=None, received_at=NOW)
    with app.uow() as uow:
        ingest(uow, app.vault, app.policy, batch.messages, now=NOW, actor="test", trusted=True)
        uow.commit()


def what_each_reads(app: Trustable, *users: str) -> dict[str, Any]:
    """What each user's data opens to, found through the blind index."""
    seen = {}
    with app.reader() as uow:
        for user in users:
            customer = find_customer(uow, app.vault, "user_id", user)
            assert customer is not None, user
            seen[user] = (
                [e.fields for e in customer_events(uow, app.vault, customer)],
                customer_traits(uow, app.vault, customer),
            )
    return seen


def expected(*users: str) -> dict[str, Any]:
    return {
        user: (
            [
                {"traits.email": f"{user}@example.org"},
                {"event": "Order Completed", "properties.order_id": user},
            ],
            {"email": f"{user}@example.org"},
        )
        for user in users
    }


def seeded(settings: Settings, users: tuple[str, ...]) -> tuple[bytes, str]:
    """Collect for `users`, make a destination secret; (that secret, the ledger key)."""
    with opened(settings) as app:
        collect(app, *users)
        secret = app.vault.destination_secret(DESTINATION)
        public = app.vault.public_key().public_bytes_raw().hex()
    return secret, public


def wrappers(engine: Engine) -> dict[str, list[str | None]]:
    """The master id of every key-store row, by table."""
    with engine.connect() as conn:
        return {
            "customer_keys": [r[0] for r in conn.execute(select(customer_keys.c.master_id))],
            "vault_secrets": [r[0] for r in conn.execute(select(vault_secrets.c.master_id))],
        }


USERS = tuple(f"user-{i}" for i in range(5))


def test_every_key_and_secret_moves_and_no_data_does(settings: Settings) -> None:
    old = current_key(settings)
    secret, public = seeded(settings, USERS)
    data, keys = make_engine(settings.database_url), make_engine(settings.keystore_url)
    try:
        data_before = raw_dump(data)
        with keys.connect() as conn:
            wrapped_before = set(conn.execute(select(customer_keys.c.wrapped)).scalars())
        seen: list[tuple[int, int]] = []

        outcome = rotate_master_key(
            settings, chunk_size=2, progress=lambda done, total: seen.append((done, total))
        )

        new = decode_key(outcome.new_key_file.read_text(), origin="test")
        assert outcome.source == "env" and outcome.new_key_file == next_key_file(
            settings.master_key_file
        )
        assert stat.S_IMODE(outcome.new_key_file.stat().st_mode) == 0o600
        assert outcome.rotation.old_id == master_id(old) != outcome.rotation.new_id
        assert outcome.rotation.new_id == master_id(new)
        assert raw_dump(data) == data_before  # not one event, trait or identifier changed
        ids = wrappers(keys)
        assert len(ids["customer_keys"]) == len(USERS)
        assert set(ids["customer_keys"]) == set(ids["vault_secrets"]) == {master_id(new)}
        with keys.connect() as conn:
            names = set(conn.execute(select(vault_secrets.c.name)).scalars())
            wrapped_after = set(conn.execute(select(customer_keys.c.wrapped)).scalars())
        assert ROTATION_TARGET not in names and f"destination:{DESTINATION}" in names
        assert not wrapped_after & wrapped_before
        assert seen[-1][0] == seen[-1][1] == outcome.rotation.moved >= len(USERS) + 3
    finally:
        data.dispose()
        keys.dispose()

    with opened(with_key(settings, new)) as app:
        assert what_each_reads(app, *USERS) == expected(*USERS)  # same index, same keys
        assert app.vault.destination_secret(DESTINATION) == secret
        assert app.vault.public_key().public_bytes_raw().hex() == public
    with pytest.raises(VaultError, match=WRONG_KEY):
        bootstrap(settings)  # the old key, even with the new key's file beside it


def test_an_interrupted_rotation_loses_nothing_and_completes_on_a_second_run(
    settings: Settings,
) -> None:
    old = current_key(settings)
    secret, public = seeded(settings, USERS)

    with pytest.raises(Interrupted):
        rotate_master_key(settings, chunk_size=2, after_chunk=stop_after_first_chunk)

    new = decode_key(next_key_file(settings.master_key_file).read_text(), origin="test")
    keys = make_engine(settings.keystore_url)
    try:
        ids = wrappers(keys)
        assert sorted(ids["customer_keys"], key=str) == sorted(
            [master_id(new)] * 2 + [master_id(old)] * 3, key=str
        )
        # (a) The store opens with the old key and the pending new one, and reads all.
        with opened(settings) as app:
            assert what_each_reads(app, *USERS) == expected(*USERS)
            assert app.vault.destination_secret(DESTINATION) == secret
            assert app.vault.public_key().public_bytes_raw().hex() == public
            collect(app, "late-1")  # a customer arriving mid-rotation
            with app.reader() as uow:
                late = find_customer(uow, app.vault, "user_id", "late-1")
        with keys.connect() as conn:
            late_wrapper = conn.execute(
                select(customer_keys.c.master_id).where(customer_keys.c.customer_id == late)
            ).scalar_one()
        assert late_wrapper == master_id(new)  # wrapped by the new key from the start
        # Either key alone is refused, clearly, while the rotation is under way.
        with pytest.raises(VaultError, match="rotation is under way"):
            Vault(keys, old).open()
        with pytest.raises(VaultError, match=WRONG_KEY):
            Vault(keys, new).open()

        # (b) A second run picks up the pending key and finishes.
        outcome = rotate_master_key(settings, chunk_size=2)
        assert outcome.rotation.resumed and not outcome.rotation.already_done
        assert outcome.rotation.new_id == master_id(new)
        assert outcome.rotation.moved >= 3 + 2  # the three customers left, and the secrets
        ids = wrappers(keys)
        assert set(ids["customer_keys"]) == set(ids["vault_secrets"]) == {master_id(new)}
        with pytest.raises(VaultError, match=WRONG_KEY):
            Vault(keys, old, next_key=new).open()
    finally:
        keys.dispose()

    with pytest.raises(VaultError, match=WRONG_KEY):
        bootstrap(settings)  # the old key no longer opens the store
    with opened(with_key(settings, new)) as app:  # the new key alone opens everything
        assert what_each_reads(app, *USERS, "late-1") == expected(*USERS, "late-1")
        assert app.vault.destination_secret(DESTINATION) == secret
        assert app.vault.public_key().public_bytes_raw().hex() == public


def test_a_process_that_missed_the_rotation_fails_closed(settings: Settings) -> None:
    """A server started before the rotation holds only the old key: it must neither
    write new keys under it nor guess, but say that it needs restarting."""
    with opened(settings) as app:
        collect(app, *USERS)
        with app.reader() as uow:
            customers = [find_customer(uow, app.vault, "user_id", u) for u in USERS]
        with pytest.raises(Interrupted):
            rotate_master_key(settings, chunk_size=2, after_chunk=stop_after_first_chunk)
        with pytest.raises(VaultError, match="restart it with the new master key"):
            app.vault.create_keys(["cus_new"])
        for customer in customers:
            assert customer is not None
            app.vault.forget(customer)
        with pytest.raises(VaultError, match="restart it with the new key"):
            app.vault.load_keys(customers)  # two of them are under the new key now


def test_with_a_key_file_the_file_is_replaced_atomically(settings: Settings) -> None:
    from_file = replace(settings, master_key=None)
    old = load_or_create_master_key(None, from_file.master_key_file)
    seeded(from_file, USERS)

    outcome = rotate_master_key(from_file, chunk_size=3)

    key_file = from_file.master_key_file
    new = decode_key(key_file.read_text(), origin="test")
    assert outcome.source == "file" and outcome.key_file == key_file
    assert new != old and outcome.rotation.new_id == master_id(new)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # No second copy of either key: no .next file, no temporary file left.
    assert sorted(p.name for p in key_file.parent.iterdir() if "master" in p.name) == ["master.key"]
    with opened(from_file) as app:
        assert what_each_reads(app, *USERS) == expected(*USERS)
    with pytest.raises(VaultError, match=WRONG_KEY):
        bootstrap(with_key(settings, old))


def test_a_stop_between_the_store_and_the_key_file_is_finished_by_a_rerun(
    settings: Settings,
) -> None:
    from_file = replace(settings, master_key=None)
    old = load_or_create_master_key(None, from_file.master_key_file)
    seeded(from_file, USERS)
    new = create_key_file(next_key_file(from_file.master_key_file))
    keys = make_engine(settings.keystore_url)
    try:
        rotate(keys, old, new)  # the store is done; master.key still holds the old key
    finally:
        keys.dispose()
    with pytest.raises(VaultError, match=WRONG_KEY):
        bootstrap(from_file)

    outcome = rotate_master_key(from_file)

    assert outcome.rotation.already_done
    assert decode_key(from_file.master_key_file.read_text(), origin="test") == new
    with opened(from_file) as app:
        assert what_each_reads(app, *USERS) == expected(*USERS)


def write_key(path: Path, key: bytes, mode: int = 0o600) -> Path:
    path.write_text(encode_key(key) + "\n")
    os.chmod(path, mode)
    return path


def test_an_operators_key_file_is_used_and_a_pending_rotation_is_not_switched(
    settings: Settings, tmp_path: Path
) -> None:
    seeded(settings, USERS)
    mine = secrets.token_bytes(32)
    loose = write_key(tmp_path / "loose.key", mine, mode=0o644)
    with pytest.raises(VaultError, match="readable by others"):
        rotate_master_key(settings, new_key_file=loose)

    with pytest.raises(Interrupted):
        rotate_master_key(settings, chunk_size=2, after_chunk=stop_after_first_chunk)
    other = write_key(tmp_path / "other.key", mine)
    with pytest.raises(VaultError, match="rotation to another new master key"):
        rotate_master_key(settings, new_key_file=other)  # would strand the moved rows
    rotate_master_key(settings)  # the pending key finishes it
    pending = decode_key(next_key_file(settings.master_key_file).read_text(), origin="test")

    rotated = with_key(settings, pending)
    outcome = rotate_master_key(rotated, new_key_file=other)
    assert outcome.new_key_file == other and outcome.rotation.new_id == master_id(mine)
    with opened(with_key(settings, mine)) as app:
        assert what_each_reads(app, *USERS) == expected(*USERS)


def test_a_leftover_next_file_holding_the_key_in_use_is_not_reused(settings: Settings) -> None:
    seeded(settings, USERS[:1])
    rotate_master_key(settings)
    leftover = next_key_file(settings.master_key_file)
    now_current = with_key(settings, decode_key(leftover.read_text(), origin="test"))
    with pytest.raises(VaultError, match="holds the master key already in use"):
        rotate_master_key(now_current)


def old_shape(engine: Engine, key: bytes) -> None:
    """Fill a key store at revision keys_0001 as Trustable wrote it before master ids."""
    upgrade(engine, "keys", "keys_0001")
    master = MasterKey(key)
    metadata = MetaData()

    def shape() -> list[Column[Any]]:
        return [Column("wrapped", LargeBinary), Column("created_at", UtcDateTime())]

    old_secrets = Table("vault_secrets", metadata, Column("name", String(64)), *shape())
    old_keys = Table("customer_keys", metadata, Column("customer_id", String(32)), *shape())
    signing = Ed25519PrivateKey.generate().private_bytes_raw()
    with engine.begin() as conn:
        conn.execute(
            old_secrets.insert(),
            [
                {"name": n, "wrapped": master.wrap(s, secret_aad(n)), "created_at": NOW}
                for n, s in (
                    ("check", CHECK_PLAINTEXT),
                    ("blind_index", os.urandom(32)),
                    ("ledger_signing", signing),
                )
            ],
        )
        conn.execute(
            old_keys.insert(),
            [
                {
                    "customer_id": "cus_old",
                    "wrapped": master.wrap(os.urandom(32), b"customer:cus_old"),
                    "created_at": NOW,
                }
            ],
        )
    upgrade(engine, "keys")


def test_rows_from_before_master_ids_are_claimed_by_the_key_that_opens_them(
    settings: Settings,
) -> None:
    old = current_key(settings)
    keys = make_engine(settings.keystore_url)
    try:
        old_shape(keys, old)
        assert wrappers(keys) == {"customer_keys": [None], "vault_secrets": [None] * 3}
        vault = Vault(keys, old).open()
        vault.load_keys(["cus_old"])
        assert wrappers(keys) == {
            "customer_keys": [master_id(old)],
            "vault_secrets": [master_id(old)] * 3,
        }
    finally:
        keys.dispose()


def test_rows_from_before_master_ids_rotate_too(settings: Settings) -> None:
    old, new = current_key(settings), secrets.token_bytes(32)
    keys = make_engine(settings.keystore_url)
    try:
        old_shape(keys, old)
        rotate(keys, old, new)
        assert set(sum(wrappers(keys).values(), [])) == {master_id(new)}
        Vault(keys, new).open().load_keys(["cus_old"])
    finally:
        keys.dispose()


def test_the_master_id_is_public_and_not_the_key() -> None:
    key = secrets.token_bytes(32)
    assert len(master_id(key)) == 16 and master_id(key) == master_id(key)
    assert master_id(key) not in (key.hex(), encode_key(key))
    assert master_id(key) != master_id(secrets.token_bytes(32))
    assert "id=" in repr(MasterKey(key)) and key.hex() not in repr(MasterKey(key))


def test_rotate_master_from_the_command_line(settings: Settings) -> None:
    runner = CliRunner()
    env = cli_env(settings)
    assert runner.invoke(cli, ["keys", "rotate-master", "--help"]).exit_code == 0
    assert runner.invoke(cli, ["demo", "--no-serve", "--customers", "0"], env=env).exit_code == 0
    assert runner.invoke(cli, ["ledger", "sign"], env=env).exit_code == 0

    result = runner.invoke(cli, ["keys", "rotate-master"], env=env)

    assert result.exit_code == 0, result.output
    path = next_key_file(settings.master_key_file)
    new = path.read_text().strip()
    assert "Set TRUSTABLE_MASTER_KEY to the new master key now" in result.output
    assert str(path) in result.output and "no longer opens the key store" in result.output
    assert new not in result.output and env["TRUSTABLE_MASTER_KEY"] not in result.output
    refused = runner.invoke(cli, ["ledger", "verify"], env=env)
    assert refused.exit_code == 2 and WRONG_KEY in refused.output
    rotated = {**env, "TRUSTABLE_MASTER_KEY": new}
    verified = runner.invoke(cli, ["ledger", "verify"], env=rotated)
    assert verified.exit_code == 0 and "ledger intact" in verified.output


def test_an_empty_key_store_is_not_rotated_and_no_key_is_made(settings: Settings) -> None:
    with pytest.raises(VaultError, match="the key store is empty"):
        rotate_master_key(settings)
    assert not next_key_file(settings.master_key_file).exists()


def test_keys_created_while_a_rotation_runs_all_end_up_under_the_new_key(
    settings: Settings,
) -> None:
    """A writer racing the rotation (as `trustable serve` started with both keys would)
    leaves nothing behind under the old key."""
    seeded(settings, USERS)
    old = current_key(settings)
    new = create_key_file(next_key_file(settings.master_key_file))
    keys = make_engine(settings.keystore_url)
    vault = Vault(keys, old, next_key=new).open()
    made: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        try:
            while not stop.is_set():
                batch = [f"cus_race_{len(made)}_{n}" for n in range(3)]
                vault.create_keys(batch)
                made.extend(batch)
                time.sleep(0.002)  # a busy server, not one that never lets go of SQLite
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(made) < 9 and writer.is_alive():
            time.sleep(0.005)
        rotate_master_key(settings, chunk_size=2, after_chunk=lambda _: time.sleep(0.01))
        time.sleep(0.05)  # and a few more after it finished
    finally:
        stop.set()
        writer.join()
    try:
        assert failures == []
        ids = wrappers(keys)
        assert len(ids["customer_keys"]) == len(USERS) + len(made)
        assert set(ids["customer_keys"]) == set(ids["vault_secrets"]) == {master_id(new)}
        Vault(keys, new).open().load_keys(made)  # each opens under the new key alone
    finally:
        keys.dispose()
