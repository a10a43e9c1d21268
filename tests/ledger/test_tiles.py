"""The ledger in public: a C2SP checkpoint and C2SP tiles, readable with no key.

Someone holding only the log's origin and verifier key fetches the checkpoint,
checks its signature, recomputes its root from tiles, and builds proofs from tiles
alone; the log is never asked a question it could answer with a tailored proof.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, sqlite_settings
from tests.ledger.test_merkle import LEAVES, ROOT_8
from trustable.bootstrap import Trustable, bootstrap, migrate
from trustable.ledger import merkle
from trustable.ledger import service as ledger
from trustable.ledger.note import open_note, parse_checkpoint, parse_note, parse_vkey
from trustable.ledger.public import log_key
from trustable.ledger.sequencer import flush
from trustable.ledger.tiles import (
    WIDTH,
    TileError,
    TileReader,
    encode_index,
    parse_tile_path,
    tile_path,
    tile_width,
    tiles_of,
)
from trustable.ledger.verify import Verification, verify
from trustable.vault.service import Vault

ORIGIN = "privacy.shop.example/ledger"


def grow(app: Trustable, count: int, tag: str = "t") -> None:
    """`count` more entries, sequenced and covered by a signed head."""
    records = [
        ledger.Record("collect", None, "key_test", {"tag": tag, "n": n}) for n in range(count)
    ]
    with app.uow() as uow:
        ledger.submit(uow, app.vault, records, now=app.clock())
        uow.commit()
    flush(app)


@pytest.fixture
def public_app(app: Trustable) -> Trustable:
    app.settings = replace(app.settings, ledger_origin=ORIGIN)
    return app


def fetcher(server: LiveServer) -> tuple[httpx.Client, object]:
    client = httpx.Client(base_url=f"{server.url}/ledger/", timeout=10)

    def fetch(path: str) -> bytes:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        return answer.content

    return client, fetch


# -- the layout, by the spec's own examples ------------------------------------------


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_tile_indices_are_written_as_the_spec_writes_them(index: int, path: str) -> None:
    assert encode_index(index) == path
    assert parse_tile_path("0", path) == (0, index, WIDTH)
    assert parse_tile_path("2", path + ".p/17") == (2, index, 17)
    assert tile_path(1, index, 17) == f"tile/1/{path}.p/17"


@pytest.mark.parametrize(
    ("level", "rest"),
    [
        ("0", "x000/005"),  # a leading zero group: not canonical
        ("0", "5"),
        ("0", "x005"),
        ("01", "005"),
        ("64", "005"),
        ("0", "005.p/0"),
        ("0", "005.p/256"),
        ("0", "005.p/017"),
        ("0", "005/"),
        ("entries", "005"),
    ],
)
def test_every_other_spelling_of_a_tile_is_refused(level: str, rest: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(level, rest)


def test_a_tree_of_70000_has_the_tiles_the_spec_lists() -> None:
    """ "273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1
    tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1"."""
    tiles = tiles_of(70_000)
    level0 = [w for level, _, w in tiles if level == 0]
    assert level0.count(WIDTH) == 273 and level0[-1] == 112 and len(level0) == 274
    assert [w for level, _, w in tiles if level == 1] == [WIDTH, 17]
    assert [w for level, _, w in tiles if level == 2] == [1]
    assert [w for level, _, w in tiles_of(256) if level == 1] == [1]
    assert tile_width(0, 1, 256) == 0


def test_a_reader_over_the_rfc_6962_leaves_finds_their_published_root() -> None:
    hashes = [merkle.leaf_hash(leaf) for leaf in LEAVES]
    reader = TileReader(lambda path: b"".join(hashes) if path == "tile/0/000.p/8" else b"", 8)
    assert reader.root().hex() == ROOT_8
    for old in range(1, 8):
        proof = reader.consistency_proof(old)
        assert merkle.verify_consistency(old, 8, merkle.root_of(hashes[:old]), reader.root(), proof)


# -- over HTTP, with no key ----------------------------------------------------------


def test_the_checkpoint_is_public_and_verifies_with_the_logs_key(
    public_app: Trustable, live_server: LiveServer
) -> None:
    empty = httpx.get(f"{live_server.url}/ledger/checkpoint")
    assert empty.status_code == 200
    assert parse_checkpoint(parse_note(empty.text).text).size == 0  # the empty tree
    grow(public_app, 5)
    answer = httpx.get(f"{live_server.url}/ledger/checkpoint")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert "max-age=2" in answer.headers["cache-control"]
    note = parse_note(answer.text)
    vkey = log_key(public_app.vault, ORIGIN).vkey()
    assert vkey.startswith(ORIGIN + "+")
    assert open_note(note, [parse_vkey(vkey)])
    checkpoint = parse_checkpoint(note.text)
    with public_app.reader() as uow:
        head = ledger.latest_head(uow)
    assert head is not None
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (ORIGIN, 5, head.root)
    # The same size gives the same bytes: a checkpoint never changes once published.
    assert httpx.get(f"{live_server.url}/ledger/checkpoint").text == answer.text
    # The signed head is public too.
    assert httpx.get(f"{live_server.url}/v1/ledger/head").json()["size"] == 5


def test_a_reader_with_tiles_alone_recomputes_the_root_and_proves_consistency(
    public_app: Trustable, live_server: LiveServer
) -> None:
    vkey = parse_vkey(log_key(public_app.vault, ORIGIN).vkey())
    client, fetch = fetcher(live_server)
    seen = []
    for count in (3, 250, 300):  # 3, 253, 553: partial, then full level 0 tiles
        grow(public_app, count)
        note = parse_note(client.get("checkpoint").text)
        open_note(note, [vkey])
        checkpoint = parse_checkpoint(note.text)
        reader = TileReader(fetch, checkpoint.size)  # type: ignore[arg-type]
        assert reader.root() == checkpoint.root
        for old, old_root in seen:
            assert merkle.verify_consistency(
                old, checkpoint.size, old_root, checkpoint.root, reader.consistency_proof(old)
            )
        seen.append((checkpoint.size, checkpoint.root))
    # An inclusion proof from tiles checks against the leaf the log holds.
    with public_app.reader() as uow:
        leaf = ledger.entry(uow, 260).leaf_hash
    size, root = seen[-1]
    assert merkle.verify_inclusion(leaf, 260, size, reader.inclusion_proof(260), root)
    client.close()


def test_tiles_are_served_as_the_spec_says_and_only_up_to_the_checkpoint(
    public_app: Trustable, live_server: LiveServer
) -> None:
    grow(public_app, 300)
    base = f"{live_server.url}/ledger/tile"
    full = httpx.get(f"{base}/0/000")
    assert full.status_code == 200 and len(full.content) == WIDTH * 32
    assert full.headers["content-type"] == "application/octet-stream"
    assert "immutable" in full.headers["cache-control"]
    partial = httpx.get(f"{base}/0/001.p/44")
    assert partial.status_code == 200 and len(partial.content) == 44 * 32
    assert "immutable" not in partial.headers["cache-control"]
    # A shorter prefix of a tile is the same hashes.
    assert httpx.get(f"{base}/0/001.p/10").content == partial.content[: 10 * 32]
    level1 = httpx.get(f"{base}/1/000.p/1")
    assert level1.status_code == 200
    with public_app.reader() as uow:
        hashes = [ledger.entry(uow, i).leaf_hash for i in range(WIDTH)]
    assert full.content == b"".join(hashes)
    assert level1.content == merkle.root_of(hashes)
    # Past the checkpoint, a tile is not there; entries are not public at all.
    grow_unsigned(public_app, 20)
    for path, code in (
        ("0/001.p/45", "no_such_tile"),
        ("0/001", "no_such_tile"),
        ("0/002.p/1", "no_such_tile"),
        ("1/000", "no_such_tile"),
        ("0/x000/001", "no_such_tile"),
        ("entries/000", "entries_not_public"),
        ("entries/001.p/44", "entries_not_public"),
    ):
        answer = httpx.get(f"{base}/{path}")
        assert answer.status_code == 404, path
        assert answer.json()["code"] == code, path


def grow_unsigned(app: Trustable, count: int) -> None:
    """Entries the tree holds but no head covers yet."""
    records = [ledger.Record("collect", None, "key_test", {"n": n}) for n in range(count)]
    with app.uow() as uow:
        ledger.append(uow, app.vault, records, now=app.clock())
        uow.commit()


def test_full_level_1_tiles_agree_with_the_level_0_tiles_below_them(tmp_path: Path) -> None:
    """A tree past 256 x 256 entries: the level 1 tile holds the roots of the 256 full
    level 0 tiles, and a reader computing across both levels finds the root."""
    settings = replace(sqlite_settings(tmp_path), ledger_origin=ORIGIN)
    migrate(settings)
    app = bootstrap(settings)
    try:
        size = WIDTH * WIDTH + 300
        records = [ledger.Record("collect", None, "key_test", {"n": n}) for n in range(size)]
        for start in range(0, size, 10_000):
            with app.uow() as uow:
                ledger.append(uow, app.vault, records[start : start + 10_000], now=app.clock())
                uow.commit()
        flush(app)
        with LiveServer(app) as server:
            client, fetch = fetcher(server)
            level1 = client.get("tile/1/000").content
            level0 = [client.get(f"tile/0/{encode_index(n)}").content for n in range(WIDTH)]
            assert level1 == b"".join(
                merkle.root_of([t[i : i + 32] for i in range(0, len(t), 32)]) for t in level0
            )
            checkpoint = parse_checkpoint(parse_note(client.get("checkpoint").text).text)
            assert checkpoint.size == size
            reader = TileReader(fetch, size)  # type: ignore[arg-type]
            assert reader.root() == checkpoint.root
            assert client.get("tile/2/000.p/1").content == level1_root(level1)
            client.close()
        with app.reader() as uow:
            checked: Verification = verify(
                uow, app.vault.public_key(), now=app.clock(), max_delay=30
            )
        assert checked.ok
    finally:
        app.close()


def level1_root(level1: bytes) -> bytes:
    return merkle.root_of([level1[i : i + 32] for i in range(0, len(level1), 32)])


# -- docs/verify_ledger.py, as an outsider runs it -------------------------------------

VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "verify_ledger.py"


def audit(server: LiveServer, vkey: str, state: Path, *more: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, str(VERIFIER), "audit", server.url, vkey, "--state", str(state), *more],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_the_standalone_script_audits_the_log_from_its_public_tiles(
    public_app: Trustable, live_server: LiveServer, tmp_path: Path
) -> None:
    vkey = log_key(public_app.vault, ORIGIN).vkey()
    state = tmp_path / "seen.txt"
    grow(public_app, 300)
    code, out = audit(live_server, vkey, state, "--full")
    assert code == 0, out
    assert "size 300" in out and "recomputed" in out
    assert state.read_text().split()[:2] == [ORIGIN, "300"]
    grow(public_app, 77)
    code, out = audit(live_server, vkey, state)
    assert code == 0, out
    assert "the log of 300 seen before is the start of 377: ok" in out
    # Another key: the checkpoint is not the log's.
    stranger = log_key(bootstrap_other(tmp_path), ORIGIN).vkey()
    code, out = audit(live_server, stranger, tmp_path / "other.txt")
    assert code == 1 and "no signature by the log's key" in out
    # A remembered view the log never had (a fork shown before): refused, and kept.
    other_root = base64.b64encode(bytes(32)).decode()
    forked = f"{ORIGIN} 300 {other_root}\n"
    state.write_text(forked)
    code, out = audit(live_server, vkey, state)
    assert code == 1 and "is not the start of this one" in out
    assert state.read_text() == forked


def bootstrap_other(tmp_path: Path) -> Vault:
    settings = sqlite_settings(tmp_path / "other")
    migrate(settings)
    other = bootstrap(settings)
    vault = other.vault
    other.close()
    return vault


def test_consistency_proofs_between_published_sizes_are_public(
    public_app: Trustable, live_server: LiveServer
) -> None:
    grow(public_app, 10)
    with public_app.reader() as uow:
        small = ledger.root_at(uow, 10)
    grow(public_app, 23)
    note = parse_checkpoint(parse_note(httpx.get(f"{live_server.url}/ledger/checkpoint").text).text)
    answer = httpx.get(
        f"{live_server.url}/ledger/proof/consistency", params={"first": 10, "second": 33}
    )
    assert answer.status_code == 200
    proof = [base64.b64decode(p) for p in answer.json()["proof"]]
    assert merkle.verify_consistency(10, 33, small, note.root, proof)
    grow_unsigned(public_app, 5)
    beyond = httpx.get(
        f"{live_server.url}/ledger/proof/consistency", params={"first": 10, "second": 38}
    )
    assert beyond.status_code == 404 and beyond.json()["code"] == "beyond_checkpoint"
