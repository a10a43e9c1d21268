"""An outside party checks the ledger over HTTP with docs/verify_ledger.py alone.

docs/verify_ledger.py implements docs/ledger.md with SHA-256 and Ed25519 and nothing
of Trustable's. These tests hold the live service to what that document promises: every
entry about a customer is proven in a signed head, every head extends the ones before
it, anything altered fails, and every bad question gets a clear 4xx.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.conftest import LiveServer, make_key
from tests.helpers import msg
from tests.ledger.test_merkle import LEAVES
from trustable.bootstrap import Trustable
from trustable.identity.service import find_customer
from trustable.ledger.sequencer import flush

VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "verify_ledger.py"
MAX_NUMBER = 2**62
ADA = "ada-lovelace-1815"
ADA_EMAIL = "ada.lovelace@example.org"
GRACE = "grace-hopper-1906"


def load_verifier() -> ModuleType:
    """docs/verify_ledger.py, loaded by its path as an outsider would run it."""
    spec = importlib.util.spec_from_file_location("verify_ledger", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verifier = load_verifier()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def flipped(value: bytes, at: int = 0) -> bytes:
    """`value` with one bit changed."""
    return value[:at] + bytes([value[at] ^ 0x01]) + value[at + 1 :]


class Outsider:
    """Anyone holding an API key, reading the ledger over HTTP."""

    def __init__(self, server: LiveServer, key: str) -> None:
        self.url = server.url
        self.headers = {"Authorization": f"Bearer {key}"}

    def answer(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, headers=self.headers, timeout=10)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        answer = self.answer(path, **params)
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    def public_key(self) -> str:
        key: str = self.get("/v1/ledger/public-key")["public_key"]
        return key

    def head(self) -> dict[str, Any]:
        return self.get("/v1/ledger/head")

    def entries_of(self, customer_id: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.get(f"/v1/customers/{customer_id}/ledger")["entries"]
        return entries

    def inclusion(self, index: int, size: int) -> list[bytes]:
        proof = self.get("/v1/ledger/proof/inclusion", index=index, size=size)
        return [unb64(p) for p in proof["path"]]

    def consistency(self, first: int, second: int) -> list[bytes]:
        proof = self.get("/v1/ledger/proof/consistency", first=first, second=second)
        return [unb64(p) for p in proof["proof"]]


def collect(server: LiveServer, write_key: str, *messages: dict[str, Any]) -> None:
    """Collected, and logged as the sequencer of a serving process would within its
    interval."""
    answer = httpx.post(
        f"{server.url}/v1/batch", json={"batch": list(messages)}, auth=(write_key, ""), timeout=10
    )
    assert answer.status_code == 200, answer.text
    flush(server.app)


def customer(app: Trustable, user_id: str) -> str:
    with app.reader() as uow:
        found = find_customer(uow, app.vault, "user_id", user_id)
    assert found is not None
    return found


def proven(outsider: Outsider, entry: dict[str, Any], head: dict[str, Any]) -> bool:
    """Is this entry, recomputed from its bytes, in the log the head signed?"""
    digest, problems = verifier.entry_problems(entry, entry["index"])
    assert problems == [], problems
    path = outsider.inclusion(entry["index"], head["size"])
    return bool(
        verifier.verify_inclusion(digest, entry["index"], head["size"], path, unb64(head["root"]))
    )


# -- the verifier itself ---------------------------------------------------------------

ROOTS = {
    n: bytes.fromhex(h)
    for n, h in {
        1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    }.items()
}
LEAF_1 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
LEAF_4 = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
NODE_2_4 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
NODE_4_6 = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
NODE_6_8 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
NODE_0_4 = "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
NODE_4_8 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
# (index, size, path) and (first, second, proof), as published with the RFC 6962 vectors.
PUBLISHED_INCLUSIONS = [(0, 8, [LEAF_1, NODE_2_4, NODE_4_8]), (5, 8, [LEAF_4, NODE_6_8, NODE_0_4])]
PUBLISHED_CONSISTENCIES = [
    (1, 8, [LEAF_1, NODE_2_4, NODE_4_8]),
    (6, 8, [NODE_4_6, NODE_6_8, NODE_0_4]),
    (2, 5, [NODE_2_4, LEAF_4]),
]


def hexes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


@pytest.mark.parametrize(("index", "size", "path"), PUBLISHED_INCLUSIONS)
def test_the_verifier_accepts_the_published_inclusion_proofs_and_nothing_else(
    index: int, size: int, path: list[str]
) -> None:
    leaf, proof, root = verifier.leaf_hash(LEAVES[index]), hexes(path), ROOTS[size]
    assert verifier.verify_inclusion(leaf, index, size, proof, root)
    assert not verifier.verify_inclusion(verifier.leaf_hash(b"\x01"), index, size, proof, root)
    assert not verifier.verify_inclusion(leaf, index + 1, size, proof, root)
    assert not verifier.verify_inclusion(leaf, index, size, proof, ROOTS[6])
    assert not verifier.verify_inclusion(leaf, index, size, proof[:-1], root)
    assert not verifier.verify_inclusion(leaf, index, size, [*proof, proof[0]], root)
    assert not verifier.verify_inclusion(leaf, size, size, proof, root)
    for at in range(len(proof)):
        damaged = [flipped(p) if i == at else p for i, p in enumerate(proof)]
        assert not verifier.verify_inclusion(leaf, index, size, damaged, root)


@pytest.mark.parametrize(("first", "second", "path"), PUBLISHED_CONSISTENCIES)
def test_the_verifier_accepts_the_published_consistency_proofs_and_nothing_else(
    first: int, second: int, path: list[str]
) -> None:
    proof, old, new = hexes(path), ROOTS[first], ROOTS[second]
    assert verifier.verify_consistency(first, second, old, new, proof)
    assert not verifier.verify_consistency(first, second, new, old, proof)
    assert not verifier.verify_consistency(first, second, flipped(old), new, proof)
    assert not verifier.verify_consistency(first, second, old, flipped(new), proof)
    assert not verifier.verify_consistency(first, second, old, new, proof[:-1])
    assert not verifier.verify_consistency(first, second, old, new, [])
    assert not verifier.verify_consistency(second, first, new, old, proof)
    for at in range(len(proof)):
        damaged = [flipped(p) if i == at else p for i, p in enumerate(proof)]
        assert not verifier.verify_consistency(first, second, old, new, damaged)


def test_equal_sizes_and_the_empty_log_need_no_proof() -> None:
    empty = hashlib.sha256(b"").digest()
    assert verifier.verify_consistency(8, 8, ROOTS[8], ROOTS[8], [])
    assert not verifier.verify_consistency(8, 8, ROOTS[8], ROOTS[6], [])
    assert not verifier.verify_consistency(8, 8, ROOTS[8], ROOTS[8], [ROOTS[8]])
    assert verifier.verify_consistency(0, 8, empty, ROOTS[8], [])
    assert not verifier.verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])


def test_the_verifier_needs_nothing_of_trustables() -> None:
    tree = ast.parse(VERIFIER.read_text(encoding="utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
        )
    }
    outside_stdlib = imported - set(sys.stdlib_module_names) - {"__future__"}
    assert outside_stdlib == {"cryptography"}


# -- against the live service ----------------------------------------------------------


def test_the_head_of_the_empty_log_is_signed_over_the_empty_root(
    app: Trustable, live_server: LiveServer
) -> None:
    outsider = Outsider(live_server, make_key(app, "admin"))
    head = outsider.head()
    assert head["size"] == 0
    assert unb64(head["root"]) == hashlib.sha256(b"").digest()
    assert verifier.verify_head(head, outsider.public_key())


def test_an_outsider_proves_every_entry_about_a_customer_and_that_the_log_only_grew(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    collect(
        live_server,
        write_key,
        msg("identify", ADA, traits={"email": ADA_EMAIL}),
        msg("track", ADA, event="Order Completed", properties={"order_id": "o-1815"}),
        msg("identify", GRACE, traits={"email": "grace@example.org"}),
        msg("track", GRACE, event="Order Completed", properties={"order_id": "o-1906"}),
    )
    consent = httpx.post(
        f"{live_server.url}/v1/consents",
        json={"user_id": ADA, "purpose": "personalize.content.profiled", "status": "granted"},
        headers={"Authorization": f"Bearer {make_key(app, 'consent:write')}"},
        timeout=10,
    )
    assert consent.status_code == 200, consent.text
    outsider = Outsider(live_server, make_key(app, "admin"))
    # Until the sequencer's next round the choice is being logged: no index, no proof.
    waiting = outsider.get(f"/v1/customers/{customer(app, ADA)}/ledger")
    assert [p["kind"] for p in waiting["pending"]] == ["consent"]
    assert "i" not in waiting["pending"][0]["content"]
    assert [e["kind"] for e in waiting["entries"]] == ["collect", "collect"]
    flush(app)
    public_key = outsider.public_key()
    assert len(unb64(public_key)) == 32

    before = outsider.head()
    assert verifier.verify_head(before, public_key)
    assert before["size"] == 5
    ada = customer(app, ADA)
    entries = outsider.entries_of(ada)
    assert [e["kind"] for e in entries] == ["collect", "collect", "consent"]
    assert all(proven(outsider, e, before) for e in entries)

    # The entries name Ada by one pseudonym, Grace by another, and hold nothing of theirs.
    subjects = {e["content"]["subject"] for e in entries}
    assert len(subjects) == 1
    grace = outsider.entries_of(customer(app, GRACE))
    assert {e["content"]["subject"] for e in grace}.isdisjoint(subjects)
    for entry in entries + grace:
        body = unb64(entry["body"])
        for personal in (ADA, ADA_EMAIL, GRACE, "grace@example.org", ada, "o-1815", "Order"):
            assert personal.encode() not in body

    # An anonymous visit, then Ada signs in on that device: the histories are joined.
    collect(live_server, write_key, msg("track", None, anonymousId="anon-7", event="Viewed"))
    collect(live_server, write_key, msg("identify", ADA, anonymousId="anon-7"))
    after = outsider.head()
    assert verifier.verify_head(after, public_key)
    assert after["size"] > before["size"]
    proof = outsider.consistency(before["size"], after["size"])
    assert verifier.verify_consistency(
        before["size"], after["size"], unb64(before["root"]), unb64(after["root"]), proof
    )

    now = outsider.entries_of(ada)
    assert now[:3] == entries
    assert all(proven(outsider, e, after) for e in now)
    merge = next(e for e in now if e["kind"] == "merge")
    absorbed = merge["content"]["detail"]["absorbed"]
    assert merge["content"]["subject"] in subjects
    assert [e["content"]["subject"] for e in now].count(absorbed) == 1  # the anonymous visit


def test_every_head_extends_every_earlier_head_and_holds_every_earlier_entry(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    outsider = Outsider(live_server, make_key(app, "admin"))
    public_key = outsider.public_key()
    heads = {}
    for n in range(1, 12):
        collect(live_server, write_key, msg("track", f"user-{n % 3}", event="E"))
        head = outsider.head()
        assert head["size"] == n
        assert verifier.verify_head(head, public_key)
        heads[n] = unb64(head["root"])
    leaves = {i: unb64(outsider.get(f"/v1/ledger/entries/{i}")["body"]) for i in range(len(heads))}
    for second, second_root in heads.items():
        for first in range(1, second + 1):
            proof = outsider.consistency(first, second)
            assert verifier.verify_consistency(first, second, heads[first], second_root, proof)
        for index in range(second):
            path = outsider.inclusion(index, second)
            leaf = verifier.leaf_hash(leaves[index])
            assert verifier.verify_inclusion(leaf, index, second, path, second_root)
            assert len(path) <= max(0, (second - 1).bit_length())


def test_the_script_verifies_an_entry_of_the_live_log_with_any_key(
    app: Trustable, live_server: LiveServer, write_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    collect(live_server, write_key, *[msg("track", f"user-{n}", event="E") for n in range(5)])
    run = subprocess.run(
        [sys.executable, str(VERIFIER), live_server.url, write_key, "3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "verified: entry 3" in run.stdout

    pinned = Outsider(live_server, write_key).public_key()
    assert verifier.main([live_server.url, write_key, "0", "--public-key", pinned]) == 0
    assert "verified: entry 0" in capsys.readouterr().out


def test_the_script_says_no_when_the_entry_or_the_key_is_not_what_it_should_be(
    app: Trustable, live_server: LiveServer, write_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    collect(live_server, write_key, msg("track", "user-1", event="E"))
    assert verifier.main([live_server.url, write_key, "7"]) == 1
    assert "not in the signed head of 1 entries" in capsys.readouterr().out
    other = base64.b64encode(bytes(32)).decode()
    assert verifier.main([live_server.url, write_key, "0", "--public-key", other]) == 1
    assert "not the pinned one" in capsys.readouterr().out
    assert verifier.main([live_server.url, "tk_wrong", "0"]) == 1
    assert "401 (invalid_key" in capsys.readouterr().out


def test_a_tampered_proof_or_a_wrong_leaf_is_rejected(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    collect(live_server, write_key, *[msg("track", f"user-{n}", event="E") for n in range(7)])
    outsider = Outsider(live_server, make_key(app, "admin"))
    head = outsider.head()
    size, root = head["size"], unb64(head["root"])
    entry = outsider.get("/v1/ledger/entries/5")
    body = unb64(entry["body"])
    leaf = verifier.leaf_hash(body)
    path = outsider.inclusion(5, size)
    assert verifier.verify_inclusion(leaf, 5, size, path, root)

    for at in range(len(path)):
        tampered = [flipped(p, 31) if i == at else p for i, p in enumerate(path)]
        assert not verifier.verify_inclusion(leaf, 5, size, tampered, root)
    altered = body.replace(b'"kind":"collect"', b'"kind":"consent"')
    assert altered != body
    assert not verifier.verify_inclusion(verifier.leaf_hash(altered), 5, size, path, root)
    assert not verifier.verify_inclusion(body, 5, size, path, root)  # the bytes, not their hash
    other = verifier.leaf_hash(unb64(outsider.get("/v1/ledger/entries/4")["body"]))
    assert not verifier.verify_inclusion(other, 5, size, path, root)
    assert not verifier.verify_inclusion(leaf, 4, size, path, root)

    # A served entry whose bytes were changed no longer matches its leaf hash.
    forged = {**entry, "body": base64.b64encode(altered).decode()}
    _, problems = verifier.entry_problems(forged, 5)
    assert "the served leaf hash is not SHA-256(0x00 || body)" in problems

    # The tree of one entry is that entry's leaf hash; the log grew from it.
    old = verifier.leaf_hash(unb64(outsider.get("/v1/ledger/entries/0")["body"]))
    proof = outsider.consistency(1, size)
    assert verifier.verify_consistency(1, size, old, root, proof)
    assert not verifier.verify_consistency(1, size, flipped(old), root, proof)
    assert not verifier.verify_consistency(2, size, old, root, proof)
    assert not verifier.verify_consistency(1, size, old, root, proof[1:])
    for at in range(len(proof)):
        tampered = [flipped(p, 7) if i == at else p for i, p in enumerate(proof)]
        assert not verifier.verify_consistency(1, size, old, root, tampered)


def test_a_wrong_signature_or_an_altered_head_is_rejected(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    collect(live_server, write_key, *[msg("track", f"user-{n}", event="E") for n in range(3)])
    outsider = Outsider(live_server, make_key(app, "admin"))
    public_key = outsider.public_key()
    head = outsider.head()
    assert verifier.verify_head(head, public_key)

    signature = unb64(head["signature"])
    for at in (0, 31, 63):
        bad = base64.b64encode(flipped(signature, at)).decode()
        assert not verifier.verify_head({**head, "signature": bad}, public_key)
    other_root = base64.b64encode(hashlib.sha256(b"another log").digest()).decode()
    assert not verifier.verify_head({**head, "root": other_root}, public_key)
    assert not verifier.verify_head({**head, "size": head["size"] + 1}, public_key)
    later = head["timestamp"].replace(head["timestamp"][:4], "2099", 1)
    assert not verifier.verify_head({**head, "timestamp": later}, public_key)
    assert not verifier.verify_head({**head, "origin": "someone.else/v1"}, public_key)

    # A head signed with any other key is worthless, however well formed.
    impostor = Ed25519PrivateKey.generate()
    message = verifier.head_message(head["size"], unb64(head["root"]), head["timestamp"])
    forged = {**head, "signature": base64.b64encode(impostor.sign(message)).decode()}
    impostor_key = impostor.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert verifier.verify_head(forged, base64.b64encode(impostor_key).decode())
    assert not verifier.verify_head(forged, public_key)


# -- the answers to bad questions ------------------------------------------------------

HUGE = 10**30
PROOF = "/v1/ledger/proof/inclusion"
CONSISTENCY = "/v1/ledger/proof/consistency"
ENTRY = "/v1/ledger/entries"


def case(what: str, path: str, query: str, status: int, code: str) -> Any:
    return pytest.param(path, query, status, code, id=what)


BAD_QUESTIONS = [  # asked of a log of 3 entries
    case("index equal to size", PROOF, "index=3&size=3", 400, "invalid_index"),
    case("index above size", PROOF, "index=2&size=1", 400, "invalid_index"),
    case("size 0", PROOF, "index=0&size=0", 400, "invalid_size"),
    case("size beyond the log", PROOF, "index=0&size=4", 400, "beyond_log"),
    case("largest size, beyond the log", PROOF, f"index=0&size={MAX_NUMBER}", 400, "beyond_log"),
    case("negative index", PROOF, "index=-1&size=3", 400, "invalid_request"),
    case("negative size", PROOF, "index=0&size=-3", 400, "invalid_request"),
    case("text index", PROOF, "index=one&size=3", 400, "invalid_request"),
    case("fractional size", PROOF, "index=0&size=2.5", 400, "invalid_request"),
    case("empty index", PROOF, "index=&size=3", 400, "invalid_request"),
    case("huge index", PROOF, f"index={HUGE}&size=3", 400, "invalid_request"),
    case("huge size", PROOF, f"index=0&size={HUGE}", 400, "invalid_request"),
    case("size above 2^62", PROOF, f"index=0&size={MAX_NUMBER + 1}", 400, "invalid_request"),
    case("size of 5000 digits", PROOF, f"index=0&size={'9' * 5000}", 400, "invalid_request"),
    case("no index", PROOF, "size=3", 400, "invalid_request"),
    case("no size", PROOF, "index=0", 400, "invalid_request"),
    case("no parameters", PROOF, "", 400, "invalid_request"),
    case("first above second", CONSISTENCY, "first=3&second=2", 400, "invalid_range"),
    case("first 0", CONSISTENCY, "first=0&second=2", 400, "invalid_size"),
    case("second 0", CONSISTENCY, "first=0&second=0", 400, "invalid_size"),
    case("second beyond the log", CONSISTENCY, "first=1&second=4", 400, "beyond_log"),
    case("negative first", CONSISTENCY, "first=-1&second=2", 400, "invalid_request"),
    case("text second", CONSISTENCY, "first=1&second=two", 400, "invalid_request"),
    case("huge first", CONSISTENCY, f"first={HUGE}&second=2", 400, "invalid_request"),
    case("huge second", CONSISTENCY, f"first=1&second={HUGE}", 400, "invalid_request"),
    case("no second", CONSISTENCY, "first=1", 400, "invalid_request"),
    case("no first", CONSISTENCY, "second=1", 400, "invalid_request"),
    case("entry not yet written", f"{ENTRY}/3", "", 404, "unknown_entry"),
    case("largest entry", f"{ENTRY}/{MAX_NUMBER}", "", 404, "unknown_entry"),
    case("negative entry", f"{ENTRY}/-1", "", 400, "invalid_request"),
    case("text entry", f"{ENTRY}/first", "", 400, "invalid_request"),
    case("huge entry", f"{ENTRY}/{HUGE}", "", 400, "invalid_request"),
    case("unknown customer", "/v1/customers/cus_nobody/ledger", "", 404, "unknown_customer"),
]


@pytest.mark.parametrize(("path", "query", "status", "code"), BAD_QUESTIONS)
def test_a_bad_question_gets_a_clear_4xx_never_a_500(
    app: Trustable,
    live_server: LiveServer,
    write_key: str,
    path: str,
    query: str,
    status: int,
    code: str,
) -> None:
    collect(live_server, write_key, *[msg("track", f"user-{n}", event="E") for n in range(3)])
    answer = httpx.get(
        f"{live_server.url}{path}" + (f"?{query}" if query else ""),
        headers={"Authorization": f"Bearer {make_key(app, 'admin')}"},
        timeout=10,
    )
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert set(answer.json()) == {"code", "message"}
    assert answer.json()["message"]


LEDGER_ENDPOINTS = [
    "/v1/ledger/public-key",
    "/v1/ledger/entries/0",
    "/v1/ledger/proof/inclusion?index=0&size=1",
    "/v1/ledger/proof/consistency?first=1&second=1",
    "/v1/customers/cus_whoever/ledger",
]


@pytest.mark.parametrize("path", LEDGER_ENDPOINTS)
def test_the_ledger_answers_only_callers_with_a_key(
    app: Trustable, live_server: LiveServer, write_key: str, path: str
) -> None:
    collect(live_server, write_key, msg("track", "user-1", event="E"))
    for headers, code in [
        ({}, "missing_key"),
        ({"Authorization": "Bearer tk_key_aaaaaaaaaaaaaaaaaaaa." + "A" * 43}, "invalid_key"),
        ({"Authorization": "Bearer not-a-key"}, "invalid_key"),
    ]:
        answer = httpx.get(f"{live_server.url}{path}", headers=headers, timeout=10)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.json() == {"code": code, "message": answer.json()["message"]}


def test_the_signed_head_is_public_and_as_the_keyed_callers_see_it(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    collect(live_server, write_key, msg("track", "user-1", event="E"))
    admin = make_key(app, "admin", name="head-admin")
    bare = httpx.get(f"{live_server.url}/v1/ledger/head", timeout=10)
    keyed = httpx.get(
        f"{live_server.url}/v1/ledger/head",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    assert bare.status_code == keyed.status_code == 200
    assert bare.json() == keyed.json() and bare.json()["size"] == 1


def test_a_customers_entries_need_the_admin_scope(
    app: Trustable, live_server: LiveServer, write_key: str
) -> None:
    collect(live_server, write_key, msg("track", ADA, event="E"))
    path = f"/v1/customers/{customer(app, ADA)}/ledger"
    refused = Outsider(live_server, write_key).answer(path)
    assert refused.status_code == 403
    assert refused.json()["code"] == "missing_scope"
    assert Outsider(live_server, make_key(app, "admin")).answer(path).status_code == 200
