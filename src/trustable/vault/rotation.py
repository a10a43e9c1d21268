"""Master key rotation: every key-store row re-wrapped under a new master key.

Only the key store changes. Customer data keys stay the same keys, so no event, trait
or identifier in the data store is touched, and a rotation of a million customers
costs a million small re-wraps rather than a re-encryption of all their data.

How it stays safe when interrupted:

1. The start commits a `rotation_target` row: the master-key check wrapped under the
   new key. From then on every writer wraps new rows under the new key
   (`Vault._wrapping_key`), and the store opens only for a process that holds both
   keys (`Vault.open`).
2. Rows move in chunks, each in its own transaction, each row recording the id of
   the key that now wraps it. A run that stops half-way leaves every row readable
   under one of the two keys; the next run skips the rows already moved.
3. One last transaction moves whatever is left (rows a writer unaware of the
   rotation may have added), re-wraps the check under the new key and deletes the
   target row. Before it commits, only the old key (with the new) opens the store;
   after, only the new key does.

The new key must be on disk before step 1 commits: `rotate_master_key` makes sure of
that, and swaps the key file once the store is done.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from trustable.core.clock import Clock, system_clock
from trustable.core.errors import VaultError
from trustable.core.settings import Settings
from trustable.storage.engine import make_engine
from trustable.storage.migrate import upgrade
from trustable.vault.master import (
    MasterKey,
    create_key_file,
    decode_key,
    master_id,
    next_key_file,
    read_key_file,
    replace_key_file,
    sync_folder,
)
from trustable.vault.service import (
    CHECK,
    CHECK_PLAINTEXT,
    ROTATION_TARGET,
    WRONG_MASTER_KEY,
    claim_unnamed_rows,
    customer_aad,
    secret_aad,
)
from trustable.vault.tables import customer_keys, vault_secrets

CHUNK_SIZE = 1000

Progress = Callable[[int, int], None]
"""Told (rows moved so far, rows to move in all) after each committed chunk."""

AfterChunk = Callable[[int], None]
"""Called with the rows moved so far after each committed chunk; tests raise from it
to show that an interruption at that point loses nothing."""


@dataclass(frozen=True)
class _Kind:
    """One kind of key-store row: its table, its key column, its associated data."""

    table: Table
    key: str
    aad: Callable[[str], bytes]
    noun: str
    # Rows the chunks never move: the check moves last, in the finishing transaction;
    # the target row is wrapped by the new key from the start.
    kept_back: tuple[str, ...] = ()


_KINDS = (
    _Kind(customer_keys, "customer_id", customer_aad, "customer data key"),
    _Kind(vault_secrets, "name", secret_aad, "store secret", (CHECK, ROTATION_TARGET)),
)


@dataclass(frozen=True)
class Rotation:
    """What one run did. `moved` counts the rows this run re-wrapped."""

    old_id: str
    new_id: str
    moved: int
    resumed: bool
    already_done: bool


def rotate(
    engine: Engine,
    current_key: bytes,
    new_key: bytes,
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
    after_chunk: AfterChunk | None = None,
    clock: Clock = system_clock,
) -> Rotation:
    """Move every row of the key store at `engine` from `current_key` to `new_key`.

    Starts a rotation or resumes the one under way to the same new key; refuses one
    under way to another key (rows already under that key would be stranded).
    """
    old, new = MasterKey(current_key), MasterKey(new_key)
    if old.id == new.id:
        raise VaultError("the new master key is the one already in use")
    already_done, resumed = _start(engine, old, new, clock)
    if already_done:
        return Rotation(old.id, new.id, moved=0, resumed=True, already_done=True)
    total = _remaining(engine, new)
    done = 0
    if progress is not None:
        progress(done, total)
    for kind in _KINDS:
        after: str | None = None
        while True:
            with engine.begin() as conn:
                rows = _pending(conn, kind, new, after=after, limit=chunk_size)
                _rewrap(conn, kind, rows, old, new)
            if not rows:
                break
            done += len(rows)
            after = rows[-1][0]
            if progress is not None:
                progress(done, max(total, done))
            if after_chunk is not None:
                after_chunk(done)
    done += _finish(engine, old, new)
    if progress is not None:
        progress(done, max(total, done))
    return Rotation(old.id, new.id, moved=done, resumed=resumed, already_done=False)


def _start(engine: Engine, old: MasterKey, new: MasterKey, clock: Clock) -> tuple[bool, bool]:
    """Check both keys against the store and record the target; (already done, resumed).

    The check row is locked for update: writers that chose the old key before the
    target row existed commit first, so the chunks that follow see their rows.
    """
    with engine.begin() as conn:
        check = conn.execute(
            select(vault_secrets.c.wrapped, vault_secrets.c.master_id)
            .where(vault_secrets.c.name == CHECK)
            .with_for_update()
        ).first()
        if check is None:
            raise VaultError("the key store is empty: there is no master key to rotate yet")
        if check.master_id == new.id:
            _expect_check(new, check.wrapped, CHECK, "the key store's master-key check is damaged")
            return True, True
        if (check.master_id or old.id) != old.id:
            raise VaultError(WRONG_MASTER_KEY)
        _expect_check(old, check.wrapped, CHECK, WRONG_MASTER_KEY)
        target = conn.execute(
            select(vault_secrets.c.wrapped, vault_secrets.c.master_id).where(
                vault_secrets.c.name == ROTATION_TARGET
            )
        ).first()
        if target is not None:
            if target.master_id != new.id:
                raise VaultError(
                    f"a rotation to another new master key (id {target.master_id}) is under "
                    "way: give that key with --new-key-file to finish it"
                )
            _expect_check(new, target.wrapped, ROTATION_TARGET, "the rotation under way is damaged")
        else:
            conn.execute(
                insert(vault_secrets).values(
                    name=ROTATION_TARGET,
                    wrapped=new.wrap(CHECK_PLAINTEXT, secret_aad(ROTATION_TARGET)),
                    created_at=clock(),
                    master_id=new.id,
                )
            )
        claim_unnamed_rows(conn, old)
    return False, target is not None


def _expect_check(master: MasterKey, wrapped: bytes, name: str, problem: str) -> None:
    try:
        if master.unwrap(wrapped, secret_aad(name)) != CHECK_PLAINTEXT:
            raise InvalidTag()
    except InvalidTag as exc:
        raise VaultError(problem) from exc


def _not_moved(kind: _Kind, new: MasterKey) -> Any:
    table = kind.table
    where = or_(table.c.master_id.is_(None), table.c.master_id != new.id)
    if kind.kept_back:
        where = and_(where, table.c[kind.key].not_in(kind.kept_back))
    return where


def _remaining(engine: Engine, new: MasterKey) -> int:
    with engine.connect() as conn:
        return sum(
            conn.execute(
                select(func.count()).select_from(kind.table).where(_not_moved(kind, new))
            ).scalar_one()
            for kind in _KINDS
        )


def _pending(
    conn: Connection, kind: _Kind, new: MasterKey, *, after: str | None, limit: int | None
) -> list[tuple[str, bytes, str | None]]:
    """Rows not yet under the new key, in key order after `after`, locked for update
    (so an erasure deleting one of them waits, and is not undone by the update)."""
    key = kind.table.c[kind.key]
    query = select(key, kind.table.c.wrapped, kind.table.c.master_id).where(_not_moved(kind, new))
    if after is not None:
        query = query.where(key > after)
    query = query.order_by(key).limit(limit).with_for_update()
    return [(row[0], row[1], row[2]) for row in conn.execute(query)]


def _rewrap(
    conn: Connection,
    kind: _Kind,
    rows: list[tuple[str, bytes, str | None]],
    old: MasterKey,
    new: MasterKey,
) -> None:
    if not rows:
        return
    moved = []
    for key, wrapped, wrapped_by in rows:
        if (wrapped_by or old.id) != old.id:
            raise VaultError(
                f"a {kind.noun} is wrapped by a master key that is neither the current one "
                f"nor the new one (id {wrapped_by}); the rotation stopped"
            )
        try:
            secret = old.unwrap(wrapped, kind.aad(key))
        except InvalidTag as exc:
            raise VaultError(
                f"a {kind.noun} does not open under the current master key (damaged or "
                "moved); the rotation stopped and can be resumed once it is repaired"
            ) from exc
        moved.append({"b_key": key, "b_wrapped": new.wrap(secret, kind.aad(key))})
    table = kind.table
    conn.execute(
        update(table)
        .where(table.c[kind.key] == bindparam("b_key"))
        .values(wrapped=bindparam("b_wrapped"), master_id=new.id),
        moved,
    )


def _finish(engine: Engine, old: MasterKey, new: MasterKey) -> int:
    """Move what is left, then hand the store to the new key, in one transaction.

    Locking the check first makes writers that decided on a key wait or finish, so
    the last sweep sees every row they wrote.
    """
    moved = 0
    with engine.begin() as conn:
        check = conn.execute(
            select(vault_secrets.c.master_id).where(vault_secrets.c.name == CHECK).with_for_update()
        ).first()
        if check is None or check.master_id == new.id:
            return 0  # another run finished it meanwhile
        for kind in _KINDS:
            rows = _pending(conn, kind, new, after=None, limit=None)
            _rewrap(conn, kind, rows, old, new)
            moved += len(rows)
        conn.execute(
            update(vault_secrets)
            .where(vault_secrets.c.name == CHECK)
            .values(wrapped=new.wrap(CHECK_PLAINTEXT, secret_aad(CHECK)), master_id=new.id)
        )
        conn.execute(delete(vault_secrets).where(vault_secrets.c.name == ROTATION_TARGET))
    return moved


# -- from settings: where the keys come from and where the new one goes -----------


@dataclass(frozen=True)
class MasterRotation:
    """A finished rotation and what the operator must know about its keys.

    `source` says where the old key came from. "file": `key_file` now holds the new
    key. "env": TRUSTABLE_MASTER_KEY must be set to the key in `new_key_file`.
    """

    rotation: Rotation
    source: Literal["env", "file"]
    key_file: Path
    new_key_file: Path


def rotate_master_key(
    settings: Settings,
    *,
    new_key_file: Path | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
    after_chunk: AfterChunk | None = None,
    clock: Clock = system_clock,
) -> MasterRotation:
    """Rotate the master key of the key store `settings` names, files included.

    The new key is `new_key_file`'s, else the one a previous run left in
    `master.key.next`, else a new one written there (mode 0600, synced to disk
    before any row is wrapped by it). The data store is not opened.
    """
    key_file = settings.master_key_file
    source: Literal["env", "file"]
    if settings.master_key:
        current = decode_key(settings.master_key, origin="TRUSTABLE_MASTER_KEY")
        source = "env"
    elif key_file.exists():
        current = decode_key(key_file.read_text(encoding="ascii"), origin=str(key_file))
        source = "file"
    else:
        raise VaultError(
            f"there is no master key to rotate: TRUSTABLE_MASTER_KEY is not set and "
            f"{key_file} does not exist"
        )
    engine = make_engine(settings.keystore_url)
    try:
        upgrade(engine, "keys")
        with engine.connect() as conn:
            if conn.execute(select(vault_secrets.c.name).limit(1)).first() is None:
                raise VaultError("the key store is empty: there is no master key to rotate yet")
        if new_key_file is not None:
            new_path, new = new_key_file, read_key_file(new_key_file)
        else:
            new_path = next_key_file(key_file)
            new = create_key_file(new_path)
        if master_id(new) == master_id(current):
            raise VaultError(
                f"{new_path} holds the master key already in use (left from a finished "
                "rotation?): delete it, or give another key, and run again"
            )
        rotation = rotate(
            engine,
            current,
            new,
            chunk_size=chunk_size,
            progress=progress,
            after_chunk=after_chunk,
            clock=clock,
        )
    finally:
        engine.dispose()
    if source == "file":
        if new_key_file is None:
            # Made by `create_key_file`, mode 0600: renaming it is the atomic swap,
            # and leaves no second copy of the new key behind.
            os.replace(new_path, key_file)
            sync_folder(key_file.parent)
        else:
            replace_key_file(key_file, new)
    return MasterRotation(rotation, source, key_file, new_path)
