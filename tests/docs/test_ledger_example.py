"""docs/ledger.md's worked example holds: its entries are the canonical bytes Trustable
writes, and every hash, root and signature printed beside them is what Trustable
computes from them. An outside verifier is written against these numbers, so a
wrong one would send its author looking for a bug that is not theirs."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from trustable.ledger.merkle import leaf_hash, node_hash, root_of
from trustable.ledger.service import HEAD_ORIGIN, SignedHead, encode, verify_head

PAGE = (Path(__file__).parents[2] / "docs" / "ledger.md").read_text()
ENTRY = re.compile(r"```json\n(\{\"actor\".*?)\n```\s*leaf hash `([0-9a-f]{64})`", re.DOTALL)
# RFC 8032 §7.1, TEST 1: a published key, so anyone can redo the example's signature.
RFC8032_TEST1 = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


def stated(pattern: str) -> str:
    found = re.search(pattern, PAGE, re.DOTALL)
    assert found, pattern
    return found.group(1)


def test_the_example_entries_are_canonical_and_their_leaf_hashes_are_as_printed() -> None:
    entries = ENTRY.findall(PAGE)
    assert [json.loads(text)["i"] for text, _ in entries] == [0, 1, 2]
    for text, printed in entries:
        assert encode(json.loads(text)) == text.encode()  # keys sorted, no spaces
        assert leaf_hash(text.encode()).hex() == printed


def test_the_example_root_and_its_signed_head_are_as_printed() -> None:
    leaves = [leaf_hash(text.encode()) for text, _ in ENTRY.findall(PAGE)]
    assert node_hash(leaves[0], leaves[1]).hex() == stated(r"node\(0, 1\) =\s*`([0-9a-f]{64})`")
    root = root_of(leaves)
    assert root == node_hash(node_hash(leaves[0], leaves[1]), leaves[2])
    assert root.hex() == stated(r"`([0-9a-f]{64})`, in base64")
    assert base64.b64encode(root).decode() == stated(r"in base64\s*`([A-Za-z0-9+/=]{44})`")

    head = json.loads(stated(r"```json\n(\{\s*\"origin\".*?)```"))
    assert (head["origin"], head["size"]) == (HEAD_ORIGIN, 3)
    assert head["root"] == base64.b64encode(root).decode()
    signed = SignedHead(
        size=head["size"],
        root=base64.b64decode(head["root"]),
        signed_at=datetime.fromisoformat(head["timestamp"]),
        signature=base64.b64decode(head["signature"]),
    )
    message = stated(r"```text\n(trustable\.ledger/v1\\n3\\n.*?)\n```")
    assert signed.message() == message.replace("\\n", "\n").encode()

    key = Ed25519PrivateKey.from_private_bytes(RFC8032_TEST1)
    public = key.public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert base64.b64encode(raw).decode() == stated(r"TEST 1 key \(public key\s*`([^`]+)`")
    assert verify_head(signed, public)
    assert key.sign(signed.message()) == signed.signature  # Ed25519 is deterministic
