"""Envelope encryption per customer, and the keyed blind index.

Each customer has a random AES-256 data key. Personal values are sealed with
AES-256-GCM under that key with `customer_id|field` as associated data, so a
ciphertext moved to another customer or field fails to open. Data keys are stored
wrapped by the master key in the key store, a database apart from the data store:
destroying one customer's key makes every copy of their ciphertext, backups
included, unreadable.

Identifiers are looked up through a blind index: HMAC-SHA256 under a store-wide
secret key, so equality can be tested without storing the value in clear.

Every key-store row records the id of the master key that wraps it. A rotation
(`vault.rotation`) moves rows from the current master key to a new one; while it is
under way the vault holds both keys, opens each row with the key its id names, and
wraps anything new under the new key, so nothing is left behind under the old one.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from trustable.core.clock import Clock, system_clock
from trustable.core.errors import TrustableError, VaultError
from trustable.storage.among import among
from trustable.storage.changes import Follower, record_changes
from trustable.vault.master import NONCE_BYTES, MasterKey
from trustable.vault.tables import customer_keys, key_changes, vault_secrets

CHECK_PLAINTEXT = b"trustable master key check v1"
# Opened data keys kept in memory, least recently used evicted first. Each costs
# about 2.8 KiB once used (the cipher with its OpenSSL context, the pseudonym, the
# id), so at most ~28 MiB. A customer seen lately costs collection no key-store read;
# one not seen lately costs one indexed read (per batch, for all its customers).
# At 200,000 this cache alone grew the server by ~0.4 MiB/s under sustained load.
KEY_CACHE_SIZE = 10_000
# How often, at most, a process reads the key store's log of destroyed keys (on use):
# a key another process destroyed is used here at most this long (plus one read) after.
KEY_CHANGES_EVERY = 0.5
_PSEUDONYM_LABEL = b"trustable ledger pseudonym v1"

# The secret that tells whether a master key opens the store, and the one that marks
# a rotation under way: the same check wrapped under the new key, so its presence
# names the new key and proves, before anything moves, that the new key is usable.
CHECK = "check"
ROTATION_TARGET = "rotation_target"

WRONG_MASTER_KEY = (
    "the master key does not open this key store: TRUSTABLE_MASTER_KEY (or the "
    "master.key file) differs from the key the store was created with or last "
    "rotated to"
)


def customer_aad(customer_id: str) -> bytes:
    """Associated data of a wrapped customer key: it opens only in its own row."""
    return b"customer:" + customer_id.encode()


def secret_aad(name: str) -> bytes:
    """Associated data of a wrapped store secret: it opens only under its own name."""
    return b"secret:" + name.encode()


def claim_unnamed_rows(conn: Connection, master: MasterKey) -> None:
    """Record `master` as the wrapper of rows written before master ids existed.

    Only for a key that has just been shown to open the store: until the first
    rotation every row is wrapped by the one key the store has ever had.
    """
    for table in (customer_keys, vault_secrets):
        conn.execute(update(table).where(table.c.master_id.is_(None)).values(master_id=master.id))


class _CustomerKey:
    """An opened data key: the cipher, and the ledger pseudonym derived from the key
    (so the pseudonym can no longer be computed once the key is destroyed)."""

    __slots__ = ("aead", "pseudonym")

    def __init__(self, key: bytes) -> None:
        self.aead = AESGCM(key)
        self.pseudonym = hmac.digest(key, _PSEUDONYM_LABEL, "sha256")[:16].hex()


class KeyMissing(TrustableError):
    """A customer's data key does not exist: never created, or destroyed by erasure."""

    code = "key_missing"
    status = 404


class Vault:
    """The key store and the cryptography that uses it.

    Unwrapped data keys are cached in memory (at most `cache_size`) for speed.
    Destroying a key evicts it here at once and, through the key store's change log
    (`storage.changes`), from every other process's cache within `KEY_CHANGES_EVERY`
    seconds: each use of a key first makes sure the log was read that recently.
    """

    def __init__(
        self,
        engine: Engine,
        master_key: bytes,
        *,
        next_key: bytes | None = None,
        clock: Clock = system_clock,
        cache_size: int = KEY_CACHE_SIZE,
    ) -> None:
        """`master_key` must open the store; `next_key` is the new key of a rotation
        under way (ignored for opening: only the current key proves the store's
        master, so a finished rotation's old key cannot open it beside the new one)."""
        self.engine = engine
        self._current = MasterKey(master_key)
        self._next = MasterKey(next_key) if next_key is not None else None
        self._masters = {self._current.id: self._current}
        if self._next is not None:
            self._masters[self._next.id] = self._next
        self._clock = clock
        self._cache: OrderedDict[str, _CustomerKey] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        # Bumped whenever the change log makes this process forget keys: a key read
        # from the store while it moved may have been destroyed since, and is used
        # for that one call only, never cached.
        self._generation = 0
        self._listeners: list[Callable[[list[str] | None], None]] = []
        self._changes = Follower(
            engine,
            key_changes,
            every=KEY_CHANGES_EVERY,
            forget=self._forget_many,
            forget_all=self._forget_everything,
        )
        self._index_key = b""
        self._signing: Ed25519PrivateKey | None = None

    @property
    def master_id(self) -> str:
        """The public id of the master key that opened the store."""
        return self._current.id

    # -- opening -----------------------------------------------------------------
    def open(self) -> Vault:
        """Check the master key against the store and load the blind-index key.

        A store made with another master key is refused: nothing could be read, and
        anything written would be unreadable later. So is a store in the middle of
        a rotation when the rotation's new key was not given: rows already moved to
        it could not be read.
        """
        self._changes.check()  # from now on, keys destroyed elsewhere are followed
        with self.engine.begin() as conn:
            rows: dict[str, tuple[bytes, str | None]] = {
                name: (wrapped, master_id)
                for name, wrapped, master_id in conn.execute(
                    select(vault_secrets.c.name, vault_secrets.c.wrapped, vault_secrets.c.master_id)
                )
            }
            if not rows:
                self._index_key = self._create_secrets(conn)
                return self
            check = rows.get(CHECK)
            self._check_current(check)
            target = rows.get(ROTATION_TARGET)
            if target is not None:
                self._check_next(target)
            if check is not None and check[1] is None:
                claim_unnamed_rows(conn, self._current)
        index = rows.get("blind_index")
        try:
            if index is None:
                raise InvalidTag()
            self._index_key = self._unwrap(index[0], secret_aad("blind_index"), index[1])
        except InvalidTag as exc:
            raise VaultError("the key store's blind-index key is missing or damaged") from exc
        return self

    def _create_secrets(self, conn: Connection) -> bytes:
        """A new store's check, blind-index key and ledger signing key; the index key."""
        now = self._clock()
        index_key = os.urandom(32)
        signing = Ed25519PrivateKey.generate().private_bytes_raw()
        conn.execute(
            insert(vault_secrets),
            [
                {
                    "name": name,
                    "wrapped": self._current.wrap(secret, secret_aad(name)),
                    "created_at": now,
                    "master_id": self._current.id,
                }
                for name, secret in (
                    (CHECK, CHECK_PLAINTEXT),
                    ("blind_index", index_key),
                    ("ledger_signing", signing),
                )
            ],
        )
        return index_key

    def _check_current(self, check: tuple[bytes, str | None] | None) -> None:
        """The configured key must be the one the store's check is wrapped by."""
        try:
            if check is None or (check[1] or self._current.id) != self._current.id:
                raise InvalidTag()
            if self._current.unwrap(check[0], secret_aad(CHECK)) != CHECK_PLAINTEXT:
                raise InvalidTag()
        except InvalidTag as exc:
            raise VaultError(WRONG_MASTER_KEY) from exc

    def _check_next(self, target: tuple[bytes, str | None]) -> None:
        """A rotation is under way: its new key must have been given, and open."""
        if self._next is None or target[1] != self._next.id:
            raise VaultError(
                "a master key rotation is under way and this process was not given its "
                "new key: finish it with `trustable keys rotate-master` (with the same "
                "--new-key-file, if one was given)"
            )
        try:
            if self._next.unwrap(target[0], secret_aad(ROTATION_TARGET)) != CHECK_PLAINTEXT:
                raise InvalidTag()
        except InvalidTag as exc:
            raise VaultError("the new master key does not open the rotation under way") from exc

    # -- wrapping ----------------------------------------------------------------
    def _unwrap(self, blob: bytes, aad: bytes, master_id: str | None) -> bytes:
        """Open a key-store row with the master key its id names (NULL: rows from
        before master ids, all wrapped by the key that opened the store)."""
        master = self._masters.get(master_id or self._current.id)
        if master is None:
            raise VaultError(
                "a key-store row is wrapped by a master key this process does not hold: "
                "the master key was rotated since it started; restart it with the new key"
            )
        return master.unwrap(blob, aad)

    def _wrapping_key(self, conn: Connection) -> MasterKey:
        """The master key new rows must be wrapped by, read inside the writing
        transaction: the rotation's new key as soon as one is under way, so that no
        row lands under the old key behind the rotation's back.

        The check row is share-locked (PostgreSQL): a rotation starts and finishes
        under an update lock on it, so it waits for writers that decided on the old
        key to commit, and writers that wait for it see the new state.
        """
        check = conn.execute(
            select(vault_secrets.c.master_id)
            .where(vault_secrets.c.name == CHECK)
            .with_for_update(read=True, key_share=True)
        ).first()
        target = conn.execute(
            select(vault_secrets.c.master_id).where(vault_secrets.c.name == ROTATION_TARGET)
        ).first()
        if target is not None:
            wanted = target.master_id
        elif check is not None and check.master_id is not None:
            wanted = check.master_id
        else:
            wanted = self._current.id
        master = self._masters.get(wanted)
        if master is None:
            raise VaultError(
                "the master key was rotated, or a rotation started, since this process "
                "started: restart it with the new master key"
            )
        return master

    # -- customer keys -----------------------------------------------------------
    def create_keys(self, customer_ids: Iterable[str]) -> None:
        """Create and store a data key for each customer, in one key-store commit.

        Runs before the data-store transaction that first writes for these customers:
        a key whose data never landed is harmless; data without a key would be lost.
        """
        keys = {customer_id: AESGCM.generate_key(bit_length=256) for customer_id in customer_ids}
        if not keys:
            return
        now = self._clock()
        with self.engine.begin() as conn:
            master = self._wrapping_key(conn)
            conn.execute(
                insert(customer_keys),
                [
                    {
                        "customer_id": customer_id,
                        "wrapped": master.wrap(key, customer_aad(customer_id)),
                        "created_at": now,
                        "master_id": master.id,
                    }
                    for customer_id, key in keys.items()
                ],
            )
        fresh = {customer_id: _CustomerKey(key) for customer_id, key in keys.items()}
        with self._lock:
            for customer_id, opened in fresh.items():
                self._remember(customer_id, opened)

    def load_keys(self, customer_ids: Iterable[str]) -> None:
        """Warm the cache for many customers with one key-store read."""
        self._load(customer_ids)

    def _load(self, customer_ids: Iterable[str]) -> dict[str, _CustomerKey]:
        """Read the keys not in the cache, cache them, and return them."""
        self._changes.check()
        with self._lock:
            missing = [c for c in set(customer_ids) if c not in self._cache]
            generation = self._generation
        found: dict[str, _CustomerKey] = {}
        if not missing:
            return found
        # Read-only: on SQLite it then takes no write lock on the key store.
        with self.engine.connect().execution_options(read_only=True) as conn:
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                rows = conn.execute(
                    select(
                        customer_keys.c.customer_id,
                        customer_keys.c.wrapped,
                        customer_keys.c.master_id,
                    ).where(among(conn.dialect.name, customer_keys.c.customer_id, chunk))
                ).all()
                for customer_id, wrapped, master_id in rows:
                    found[customer_id] = self._open_wrapped(customer_id, wrapped, master_id)
        with self._lock:
            if generation == self._generation:
                for customer_id, opened in found.items():
                    self._remember(customer_id, opened)
        return found

    def destroy_key(self, customer_id: str) -> bool:
        """Delete a customer's data key for good; True when there was one.

        The key store's change log records it in the same transaction, so every
        other process drops its copy within `KEY_CHANGES_EVERY` seconds.
        """
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(customer_keys).where(customer_keys.c.customer_id == customer_id)
            )
            record_changes(conn, key_changes, [customer_id], now=self._clock())
        self.forget(customer_id)
        return bool(result.rowcount)

    def forget(self, customer_id: str) -> None:
        with self._lock:
            self._generation += 1
            self._cache.pop(customer_id, None)

    def follow(self) -> None:
        """Read the log of keys destroyed by other processes, if not read within
        `KEY_CHANGES_EVERY` seconds (what every use of a key does first)."""
        self._changes.check()

    def on_destroyed(self, listener: Callable[[list[str] | None], None]) -> None:
        """Also tell `listener` which customers' keys other processes destroyed
        (None: any may have been, after a silence longer than the log keeps), so
        what else this process holds about them goes too."""
        self._listeners.append(listener)

    def _forget_many(self, customer_ids: list[str]) -> None:
        with self._lock:
            self._generation += 1
            for customer_id in customer_ids:
                self._cache.pop(customer_id, None)
        for listener in self._listeners:
            listener(customer_ids)

    def _forget_everything(self) -> None:
        with self._lock:
            self._generation += 1
            self._cache.clear()
        for listener in self._listeners:
            listener(None)

    @property
    def cached_keys(self) -> int:
        """How many opened keys this process holds (at most `KEY_CACHE_SIZE`)."""
        return len(self._cache)

    def _remember(self, customer_id: str, opened: _CustomerKey) -> None:
        self._cache[customer_id] = opened
        self._cache.move_to_end(customer_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _open_wrapped(
        self, customer_id: str, wrapped: bytes, master_id: str | None
    ) -> _CustomerKey:
        try:
            return _CustomerKey(self._unwrap(wrapped, customer_aad(customer_id), master_id))
        except InvalidTag as exc:
            raise VaultError("a customer data key is damaged or was moved") from exc

    def _key(self, customer_id: str) -> _CustomerKey:
        self._changes.check()
        with self._lock:
            opened = self._cache.get(customer_id)
        if opened is not None:
            return opened
        opened = self._load([customer_id]).get(customer_id)
        if opened is None:
            with self._lock:  # loaded by another thread meanwhile
                opened = self._cache.get(customer_id)
        if opened is None:
            raise KeyMissing("this customer's data key does not exist")
        return opened

    def pseudonym(self, customer_id: str) -> str:
        """How the ledger names this customer: derived from their data key, so it
        cannot be tied to them any more once the key is destroyed."""
        return self._key(customer_id).pseudonym

    # -- sealing -----------------------------------------------------------------
    def encrypt(self, customer_id: str, field: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = f"{customer_id}|{field}".encode()
        return nonce + self._key(customer_id).aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, customer_id: str, field: str, blob: bytes) -> bytes:
        return self.opener(customer_id)(field, blob)

    def opener(self, customer_id: str) -> Callable[[str, bytes], bytes]:
        """`decrypt` for many values of one customer, their key looked up once."""
        aead = self._key(customer_id).aead
        prefix = customer_id + "|"

        def open_(field: str, blob: bytes) -> bytes:
            try:
                return aead.decrypt(
                    blob[:NONCE_BYTES], blob[NONCE_BYTES:], (prefix + field).encode()
                )
            except InvalidTag as exc:
                raise VaultError("a stored value does not open under its customer's key") from exc

        return open_

    # -- blind index ---------------------------------------------------------------
    def blind_index(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of `kind` and the normalised value, hex; equal inputs, equal index."""
        if not self._index_key:
            raise VaultError("the vault was used before it was opened")
        message = kind.encode() + b"\x00" + value.encode("utf-8")
        return hmac.digest(self._index_key, message, "sha256").hex()

    # -- ledger signing ------------------------------------------------------------
    def signing_key(self) -> Ed25519PrivateKey:
        """The ledger's Ed25519 key. Missing or damaged, it stops signing loudly:
        signing with any other key would make every head unverifiable."""
        if self._signing is not None:
            return self._signing
        with self.engine.connect() as conn:
            row = conn.execute(
                select(vault_secrets.c.wrapped, vault_secrets.c.master_id).where(
                    vault_secrets.c.name == "ledger_signing"
                )
            ).first()
        if row is None:
            raise VaultError("the ledger signing key is missing from the key store")
        try:
            raw = self._unwrap(row.wrapped, secret_aad("ledger_signing"), row.master_id)
            self._signing = Ed25519PrivateKey.from_private_bytes(raw)
        except (InvalidTag, ValueError) as exc:
            raise VaultError("the ledger signing key in the key store is damaged") from exc
        return self._signing

    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key().public_key()

    # -- destination signing secrets -------------------------------------------------
    def destination_secret(self, name: str) -> bytes:
        """The HMAC secret shared with one destination, made on first use.

        Receivers check each request's signature with it (`trustable destinations
        secret NAME` shows it to whoever configures the receiver).
        """
        label = f"destination:{name}"
        aad = secret_aad(label)
        stored = select(vault_secrets.c.wrapped, vault_secrets.c.master_id).where(
            vault_secrets.c.name == label
        )
        with self.engine.begin() as conn:
            row = conn.execute(stored).first()
            if row is None:
                # Several processes may make it at once: one insert wins, and every
                # one of them then uses the winner's secret, read back.
                master = self._wrapping_key(conn)
                insert_new = (
                    postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
                )
                conn.execute(
                    insert_new(vault_secrets)
                    .values(
                        name=label,
                        wrapped=master.wrap(os.urandom(32), aad),
                        created_at=self._clock(),
                        master_id=master.id,
                    )
                    .on_conflict_do_nothing()
                )
                row = conn.execute(stored).first()
        if row is None:
            raise VaultError(f"the signing secret of destination {name} could not be stored")
        try:
            return self._unwrap(row.wrapped, aad, row.master_id)
        except InvalidTag as exc:
            raise VaultError(f"the signing secret of destination {name} is damaged") from exc
