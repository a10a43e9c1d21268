"""A witness cosigns a log's checkpoints only while they extend what it cosigned, and
answers `add-checkpoint` as c2sp.org/tlog-witness prescribes; a log that forks is
refused for good.

The logs here are real Trustable stores, their checkpoints the ones they publish and
their proofs the ones they compute; a fork is a copy of a store that went on
differently under the same key, as an operator showing two customers two logs would.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import sqlite_settings
from tests.ledger.test_tiles import grow
from trustable.bootstrap import Trustable, bootstrap, migrate
from trustable.core.settings import Settings
from trustable.ledger import service as ledger
from trustable.ledger.note import Note, NoteKey, open_note, parse_note
from trustable.ledger.public import checkpoint, log_key
from trustable.witness.service import (
    SIZE_TYPE,
    Witness,
    WitnessError,
    cosignatures_in,
    init,
    request_body,
)

ORIGIN = "privacy.shop.example"


def published(app: Trustable) -> tuple[int, str]:
    with app.reader() as uow:
        found = checkpoint(uow, app.vault, ORIGIN)
    return found.checkpoint.size, found.note.serialize()


def request(app: Trustable, old: int) -> bytes:
    """What the log sends: its checkpoint and its proof from `old`."""
    size, note = published(app)
    with app.reader() as uow:
        proof = ledger.consistency_proof(uow, old, size) if 0 < old < size else []
    return request_body(old, proof, note)


def store(path: Path) -> Settings:
    settings = replace(sqlite_settings(path), ledger_origin=ORIGIN)
    migrate(settings)
    return settings


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Trustable]:
    app = bootstrap(store(tmp_path / "shop"))
    yield app
    app.close()


@pytest.fixture
def witness(tmp_path: Path, shop: Trustable) -> Iterator[Witness]:
    init(tmp_path / "witness", "witness.example.org/w1")
    opened = Witness.open(tmp_path / "witness")
    opened.follow(log_key(shop.vault, ORIGIN).vkey())
    yield opened
    opened.close()


def test_it_cosigns_a_growing_log_and_each_cosignature_verifies(
    shop: Trustable, witness: Witness
) -> None:
    old = 0
    for count in (5, 40, 300):
        grow(shop, count, "grow")
        answer = witness.add_checkpoint(request(shop, old))
        assert answer.status == 200, answer.body
        size, note = published(shop)
        [line] = cosignatures_in(answer.body)
        cosigned = Note(parse_note(note).text, (line,))
        assert open_note(cosigned, [witness.vkey]) == [witness.vkey]
        assert witness.followed(ORIGIN).size == size  # type: ignore[union-attr]
        old = size
    # The same checkpoint again: consistent with itself, cosigned again.
    assert witness.add_checkpoint(request(shop, old)).status == 200


def test_add_checkpoint_answers_as_the_spec_says(
    shop: Trustable, witness: Witness, tmp_path: Path
) -> None:
    grow(shop, 10, "a")
    assert witness.add_checkpoint(request(shop, 0)).status == 200
    grow(shop, 10, "b")
    # The old size is not the one it cosigned: 409 with its size, as text/x.tlog.size.
    stale = witness.add_checkpoint(request(shop, 0))
    assert (stale.status, stale.body, stale.content_type) == (409, "10\n", SIZE_TYPE)
    # Above the checkpoint's size: 400.
    assert witness.add_checkpoint(request_body(50, [], published(shop)[1])).status == 400
    # A proof that does not prove it: 422, nothing recorded.
    wrong = request_body(10, [b"\x00" * 32] * 5, published(shop)[1])
    assert witness.add_checkpoint(wrong).status == 422
    assert witness.followed(ORIGIN).size == 10  # type: ignore[union-attr]
    # A log it does not follow: 404; not signed by the log's key: 403.
    other = bootstrap(store(tmp_path / "other"))
    try:
        grow(other, 3, "o")
        assert witness.add_checkpoint(request(other, 0)).status == 403  # same origin
        renamed = replace(other.settings, ledger_origin="elsewhere.example")
        other.settings = renamed
        with other.reader() as uow:
            note = checkpoint(uow, other.vault, "elsewhere.example").note.serialize()
        assert witness.add_checkpoint(request_body(0, [], note)).status == 404
    finally:
        other.close()
    # Malformed: 400.
    for body in (b"", b"old 1\n", b"old 01\n\nx\n", b"new 0\n\n" + published(shop)[1].encode()):
        assert witness.add_checkpoint(body).status == 400, body
    # And the right request still works.
    assert witness.add_checkpoint(request(shop, 10)).status == 200


def test_a_forked_log_is_refused_for_good(
    tmp_path: Path, witness: Witness, shop: Trustable
) -> None:
    """The operator copies the store and goes on differently in the copy, under the
    same key: the two logs share a start, then disagree (a split view)."""
    grow(shop, 20, "shared")
    assert witness.add_checkpoint(request(shop, 0)).status == 200
    settings = shop.settings
    shop.close()
    shutil.copytree(tmp_path / "shop", tmp_path / "fork")
    honest = bootstrap(settings)
    forked = bootstrap(
        replace(
            settings,
            home=settings.home.parent.parent / "fork" / "home",
            database_url=settings.database_url.replace("/shop/", "/fork/"),
            keystore_url=settings.keystore_url.replace("/shop/", "/fork/"),
        )
    )
    try:
        assert log_key(forked.vault, ORIGIN) == log_key(honest.vault, ORIGIN)
        grow(honest, 10, "shown to Ada")
        grow(forked, 10, "shown to Bob")
        assert published(honest)[0] == published(forked)[0] == 30
        assert witness.add_checkpoint(request(honest, 20)).status == 200
        # The same size with another root: 409, and the log is forked from now on.
        # The fork asks from what it last knew; told the size, it asks from there.
        assert witness.add_checkpoint(request(forked, 20)).body == "30\n"
        refused = witness.add_checkpoint(request(forked, 30))
        assert refused.status == 409 and "two roots for size 30" in refused.body
        grow(honest, 5, "later")
        assert witness.add_checkpoint(request(honest, 30)).status == 409
        # Persistently: a witness opened again still refuses, and says why.
        folder = tmp_path / "witness"
        again = Witness.open(folder)
        try:
            assert again.add_checkpoint(request(honest, 30)).status == 409
            followed = again.followed(ORIGIN)
            assert followed is not None and followed.forked == "two roots for size 30"
            assert [fork for _, fork in again.refusals(ORIGIN)][0] is True
        finally:
            again.close()
    finally:
        honest.close()
        forked.close()


def test_a_witness_folder_is_made_once_and_its_key_is_private(tmp_path: Path) -> None:
    key = init(tmp_path / "w", "witness.example.org/w2")
    assert isinstance(key, NoteKey) and key.vkey().startswith("witness.example.org/w2+")
    assert (tmp_path / "w" / "witness.key").stat().st_mode & 0o077 == 0
    with pytest.raises(WitnessError, match="already holds a witness"):
        init(tmp_path / "w", "witness.example.org/w2")
    with pytest.raises(WitnessError, match="no usable witness"):
        Witness.open(tmp_path / "nothing")


def test_witnesses_are_configured_as_key_and_url_pairs(shop: Trustable) -> None:
    from trustable.core.errors import ConfigurationError
    from trustable.ledger.witnesses import configured

    w1 = NoteKey.of("w1.example", shop.vault.public_key(), 0x04).vkey()
    shop.settings = replace(shop.settings, witnesses=f"{w1} https://w1.example/ , ")
    [found] = configured(shop)
    assert (found.key.name, found.url) == ("w1.example", "https://w1.example")
    for bad in (w1, f"{w1} ftp://w1.example", "not-a-key https://w1.example"):
        shop.settings = replace(shop.settings, witnesses=bad)
        with pytest.raises(ConfigurationError, match="TRUSTABLE_WITNESSES"):
            configured(shop)
