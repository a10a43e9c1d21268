"""Envelope encryption per customer, and the keyed blind index.

Each customer has a random AES-256 data key. Personal values are sealed with
AES-256-GCM under that key with `customer_id|field` as associated data, so a
ciphertext moved to another customer or field fails to open. Data keys are stored
wrapped by the master key in the key store, a database apart from the data store:
destroying one customer's key makes every copy of their ciphertext, backups
included, unreadable.

Identifiers are looked up through a blind index: HMAC-SHA256 under a store-wide
secret key, so equality can be tested without storing the value in clear.
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
from sqlalchemy import Engine, delete, insert, select

from trustable.core.clock import Clock, system_clock
from trustable.core.errors import TrustableError, VaultError
from trustable.vault.tables import customer_keys, vault_secrets

NONCE_BYTES = 12
_CHECK_PLAINTEXT = b"trustable master key check v1"
_PSEUDONYM_LABEL = b"trustable ledger pseudonym v1"


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

    Unwrapped data keys are cached in memory (bounded) for speed; `forget` evicts a
    customer's key from the cache when it is destroyed.
    """

    def __init__(
        self,
        engine: Engine,
        master_key: bytes,
        *,
        clock: Clock = system_clock,
        cache_size: int = 200_000,
    ) -> None:
        self.engine = engine
        self._master = AESGCM(master_key)
        self._clock = clock
        self._cache: OrderedDict[str, _CustomerKey] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._index_key = b""
        self._signing: Ed25519PrivateKey | None = None

    # -- opening -----------------------------------------------------------------
    def open(self) -> Vault:
        """Check the master key against the store and load the blind-index key.

        A store made with another master key is refused: nothing could be read, and
        anything written would be unreadable later.
        """
        with self.engine.begin() as conn:
            rows = dict(conn.execute(select(vault_secrets.c.name, vault_secrets.c.wrapped)).all())
            if not rows:
                now = self._clock()
                check = self._wrap(_CHECK_PLAINTEXT, b"secret:check")
                index_key = os.urandom(32)
                signing = Ed25519PrivateKey.generate().private_bytes_raw()
                conn.execute(
                    insert(vault_secrets),
                    [
                        {"name": "check", "wrapped": check, "created_at": now},
                        {
                            "name": "blind_index",
                            "wrapped": self._wrap(index_key, b"secret:blind_index"),
                            "created_at": now,
                        },
                        {
                            "name": "ledger_signing",
                            "wrapped": self._wrap(signing, b"secret:ledger_signing"),
                            "created_at": now,
                        },
                    ],
                )
                self._index_key = index_key
                return self
        try:
            if self._unwrap(rows["check"], b"secret:check") != _CHECK_PLAINTEXT:
                raise InvalidTag()
        except (KeyError, InvalidTag) as exc:
            raise VaultError(
                "the master key does not open this key store: TRUSTABLE_MASTER_KEY (or "
                "the master.key file) differs from the key the store was created with"
            ) from exc
        try:
            self._index_key = self._unwrap(rows["blind_index"], b"secret:blind_index")
        except (KeyError, InvalidTag) as exc:
            raise VaultError("the key store's blind-index key is missing or damaged") from exc
        return self

    # -- wrapping ----------------------------------------------------------------
    def _wrap(self, secret: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._master.encrypt(nonce, secret, aad)

    def _unwrap(self, blob: bytes, aad: bytes) -> bytes:
        return self._master.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)

    # -- customer keys -----------------------------------------------------------
    def create_keys(self, customer_ids: Iterable[str]) -> None:
        """Create and store a data key for each customer, in one key-store commit.

        Runs before the data-store transaction that first writes for these customers:
        a key whose data never landed is harmless; data without a key would be lost.
        """
        rows = []
        fresh: dict[str, _CustomerKey] = {}
        now = self._clock()
        for customer_id in customer_ids:
            key = AESGCM.generate_key(bit_length=256)
            rows.append(
                {
                    "customer_id": customer_id,
                    "wrapped": self._wrap(key, b"customer:" + customer_id.encode()),
                    "created_at": now,
                }
            )
            fresh[customer_id] = _CustomerKey(key)
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(customer_keys), rows)
        with self._lock:
            for customer_id, opened in fresh.items():
                self._remember(customer_id, opened)

    def load_keys(self, customer_ids: Iterable[str]) -> None:
        """Warm the cache for many customers with one key-store read."""
        with self._lock:
            missing = [c for c in set(customer_ids) if c not in self._cache]
        if not missing:
            return
        with self.engine.connect() as conn:
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                rows = conn.execute(
                    select(customer_keys.c.customer_id, customer_keys.c.wrapped).where(
                        customer_keys.c.customer_id.in_(chunk)
                    )
                ).all()
                for customer_id, wrapped in rows:
                    opened = self._open_wrapped(customer_id, wrapped)
                    with self._lock:
                        self._remember(customer_id, opened)

    def destroy_key(self, customer_id: str) -> bool:
        """Delete a customer's data key for good; True when there was one."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(customer_keys).where(customer_keys.c.customer_id == customer_id)
            )
        self.forget(customer_id)
        return bool(result.rowcount)

    def forget(self, customer_id: str) -> None:
        with self._lock:
            self._cache.pop(customer_id, None)

    def _remember(self, customer_id: str, opened: _CustomerKey) -> None:
        self._cache[customer_id] = opened
        self._cache.move_to_end(customer_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _open_wrapped(self, customer_id: str, wrapped: bytes) -> _CustomerKey:
        try:
            return _CustomerKey(self._unwrap(wrapped, b"customer:" + customer_id.encode()))
        except InvalidTag as exc:
            raise VaultError("a customer data key is damaged or was moved") from exc

    def _key(self, customer_id: str) -> _CustomerKey:
        with self._lock:
            opened = self._cache.get(customer_id)
        if opened is not None:
            return opened
        self.load_keys([customer_id])
        with self._lock:
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
                select(vault_secrets.c.wrapped).where(vault_secrets.c.name == "ledger_signing")
            ).first()
        if row is None:
            raise VaultError("the ledger signing key is missing from the key store")
        try:
            raw = self._unwrap(row[0], b"secret:ledger_signing")
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
        aad = f"secret:{label}".encode()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(vault_secrets.c.wrapped).where(vault_secrets.c.name == label)
            ).first()
            if row is None:
                secret = os.urandom(32)
                conn.execute(
                    insert(vault_secrets).values(
                        name=label, wrapped=self._wrap(secret, aad), created_at=self._clock()
                    )
                )
                return secret
        try:
            return self._unwrap(row[0], aad)
        except InvalidTag as exc:
            raise VaultError(f"the signing secret of destination {name} is damaged") from exc
