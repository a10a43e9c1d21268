"""C2SP signed notes, checkpoints and cosignatures, against other implementations'
published vectors: what Trustable signs, any tlog tool reads, and the other way round."""

# The vectors are copied as published, one signature line each.
# ruff: noqa: E501

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trustable.ledger.note import (
    COSIGNATURE,
    ED25519,
    Checkpoint,
    Note,
    NoteError,
    NoteKey,
    cosign,
    cosignature_time,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    sign,
)

# golang.org/x/mod/sumdb/note, note_test.go: a key, a text and the signed note.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_NOTE = (
    PETER_TEXT + "\n"
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

# A checkpoint of a public CT log with its witnesses' cosignatures, as published
# (transparency-dev's test data): the log signs with ECDSA (unknown here, ignored),
# Ed25519 (type 0x01), and the witnesses cosign (type 0x04).
ARCHE = """arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
"""
ARCHE_LOG = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)
REMORA = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
STAGEMOLE = "witness.stagemole.eu+67f7aea0+BEqSG3yu9YrmcM3BHvQYTxwFj3uSWakQepafafpUqklv"


def peter() -> Ed25519PrivateKey:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert seed[0] == ED25519
    return Ed25519PrivateKey.from_private_bytes(seed[1:])


def test_a_note_signed_here_is_byte_for_byte_the_go_implementations() -> None:
    key = peter()
    assert NoteKey.of("PeterNeumann", key.public_key()).vkey() == PETER_VKEY
    assert Note(PETER_TEXT, (sign(PETER_TEXT, "PeterNeumann", key),)).serialize() == PETER_NOTE


def test_the_go_note_opens_with_its_key_and_not_once_altered() -> None:
    note = parse_note(PETER_NOTE)
    assert note.text == PETER_TEXT
    assert open_note(note, [parse_vkey(PETER_VKEY)]) == [parse_vkey(PETER_VKEY)]
    altered = parse_note(PETER_NOTE.replace("cryptography", "cryptographY"))
    with pytest.raises(NoteError, match="does not verify"):
        open_note(altered, [parse_vkey(PETER_VKEY)])


def test_a_published_checkpoint_and_its_witnesses_cosignatures_verify() -> None:
    note = parse_note(ARCHE)
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.size) == (
        "arche2025h1.staging.ct.transparency.dev",
        1432088532,
    )
    assert checkpoint.text() == note.text
    for vkey in (ARCHE_LOG, REMORA, STAGEMOLE):
        assert open_note(note, [parse_vkey(vkey)]) == [parse_vkey(vkey)]
    assert parse_vkey(REMORA).kind == COSIGNATURE
    remora = next(s for s in note.signatures if s.name == "remora.n621.de")
    assert cosignature_time(remora) > 1_700_000_000  # seconds, in this decade
    # Another size under the same signatures: the log's and every witness's fail.
    forged = Note(note.text.replace("1432088532", "42"), note.signatures)
    for vkey in (ARCHE_LOG, REMORA):
        with pytest.raises(NoteError, match="does not verify"):
            open_note(forged, [parse_vkey(vkey)])


def test_unknown_keys_are_ignored_but_a_note_no_known_key_signed_is_refused() -> None:
    note = parse_note(ARCHE)
    # Same name as the log, another key: ignored, as the spec says; no known key left.
    stranger = NoteKey.of("arche2025h1.staging.ct.transparency.dev", peter().public_key())
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(note, [stranger])
    assert open_note(note, [stranger, parse_vkey(REMORA)]) == [parse_vkey(REMORA)]


def test_a_cosignature_made_here_verifies_and_commits_to_its_time() -> None:
    witness = Ed25519PrivateKey.generate()
    text = Checkpoint("shop.example/ledger", 7, b"\x01" * 32).text()
    signature = cosign(text, "witness.example/w1", witness, 1_767_225_600)
    key = NoteKey.of("witness.example/w1", witness.public_key(), COSIGNATURE)
    assert cosignature_time(signature) == 1_767_225_600
    note = Note(text, (signature,))
    assert open_note(parse_note(note.serialize()), [key]) == [key]
    # The time is signed: moving it breaks the cosignature.
    moved = signature.signature[:7] + b"\x01" + signature.signature[8:]
    with pytest.raises(NoteError):
        open_note(Note(text, (type(signature)(signature.name, signature.key_id, moved),)), [key])
    # A cosigning key is not a log key: the same key under type 0x01 has another id.
    assert NoteKey.of("witness.example/w1", witness.public_key()).key_id != key.key_id


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type 2
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short
    ],
)
def test_a_damaged_verifier_key_is_refused_with_a_reason(vkey: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(vkey)


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (PETER_TEXT, "blank line"),
        (PETER_TEXT + "\n", "no signature"),
        (PETER_TEXT + "\n— PeterNeumann !!!\n", "base64"),
        (PETER_TEXT + "\n- PeterNeumann x08g\n", "signature line"),
        ("a\x07b\n\n— k AAAAAAA=\n", "control characters"),
        (PETER_NOTE.rstrip("\n"), "blank line"),
    ],
)
def test_a_malformed_note_is_refused_saying_what_is_wrong(note: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        parse_note(note)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("origin\n007\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "leading zeros"),
        ("origin\n7\nAAAA\n", "32 bytes"),
        ("origin\n7\n", "origin, a tree size and a root hash"),
        ("\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "origin is not empty"),
        ("origin\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n", "extension lines"),
    ],
)
def test_a_malformed_checkpoint_is_refused(text: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        parse_checkpoint(text)


def test_a_checkpoint_round_trips_with_its_extension_lines() -> None:
    made = Checkpoint("shop.example/ledger", 0, b"\x00" * 32, ("ext one",))
    assert parse_checkpoint(made.text()) == made
