"""The vault: sealed values open only for their customer and field, under the right key."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest

from trustable.bootstrap import Trustable, bootstrap
from trustable.core.errors import VaultError
from trustable.core.settings import Settings
from trustable.vault.master import encode_key, load_or_create_master_key
from trustable.vault.service import KeyMissing


def test_a_sealed_value_opens_only_for_its_customer_and_field(app: Trustable) -> None:
    vault = app.vault
    vault.create_keys(["cus_a", "cus_b"])
    sealed = vault.encrypt("cus_a", "trait:email", b"ada@example.org")
    assert b"ada@example.org" not in sealed
    assert vault.decrypt("cus_a", "trait:email", sealed) == b"ada@example.org"
    with pytest.raises(VaultError):
        vault.decrypt("cus_a", "trait:name", sealed)
    # Another customer's key cannot open it either (and is a different key).
    with pytest.raises(VaultError):
        vault.decrypt("cus_b", "trait:email", sealed)


def test_each_seal_is_fresh(app: Trustable) -> None:
    app.vault.create_keys(["cus_a"])
    one = app.vault.encrypt("cus_a", "f", b"same")
    two = app.vault.encrypt("cus_a", "f", b"same")
    assert one != two


def test_a_destroyed_key_leaves_ciphertext_unreadable(app: Trustable) -> None:
    app.vault.create_keys(["cus_gone"])
    sealed = app.vault.encrypt("cus_gone", "f", b"secret")
    assert app.vault.destroy_key("cus_gone")
    with pytest.raises(KeyMissing):
        app.vault.decrypt("cus_gone", "f", sealed)


def test_the_blind_index_is_stable_and_keyed(app: Trustable, settings: Settings) -> None:
    one = app.vault.blind_index("email", "ada@example.org")
    assert one == app.vault.blind_index("email", "ada@example.org")
    assert one != app.vault.blind_index("user_id", "ada@example.org")
    assert len(one) == 64 and set(one) <= set("0123456789abcdef")  # a digest, not the value
    # A reopened vault (same key store) computes the same index.
    again = bootstrap(settings)
    try:
        assert again.vault.blind_index("email", "ada@example.org") == one
    finally:
        again.close()


def test_a_wrong_master_key_is_refused(app: Trustable, settings: Settings) -> None:
    wrong = Settings(**{**settings.__dict__, "master_key": encode_key(secrets.token_bytes(32))})
    with pytest.raises(VaultError, match="master key does not open this key store"):
        bootstrap(wrong)


def test_a_malformed_master_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="not valid base64|must be 32 bytes"):
        load_or_create_master_key("short", tmp_path / "master.key")


def test_the_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "home" / "master.key"
    first = load_or_create_master_key(None, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_key(None, path) == first
