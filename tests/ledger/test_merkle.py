"""RFC 9162 hashing and proofs, against the published RFC 6962 test vectors."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from trustable.ledger.merkle import (
    EMPTY_ROOT,
    Node,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    perfect_parts,
    proof_hashes,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle testonly: the eight standard leaves and their root.
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# The published audit path of leaf 0 in the tree of 8 (RFC 6962 test data).
PATH_0_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]


def source_for(hashes: list[bytes]) -> object:
    def source(wanted: Iterable[Node]) -> dict[Node, bytes]:
        return {
            (level, index): root_of(hashes[index << level : (index + 1) << level])
            for level, index in wanted
        }

    return source


def test_the_published_roots() -> None:
    assert EMPTY_ROOT.hex() == EMPTY
    assert root_of([leaf_hash(d) for d in LEAVES]).hex() == ROOT_8


def test_the_published_audit_path() -> None:
    hashes = [leaf_hash(d) for d in LEAVES]
    path = proof_hashes(inclusion_ranges(0, 8), source_for(hashes))  # type: ignore[arg-type]
    assert [p.hex() for p in path] == PATH_0_8
    assert verify_inclusion(hashes[0], 0, 8, path, bytes.fromhex(ROOT_8))


@pytest.mark.parametrize("size", range(1, 18))
def test_every_inclusion_proof_verifies_and_is_short(size: int) -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(size)]
    root = root_of(hashes)
    for index in range(size):
        path = proof_hashes(inclusion_ranges(index, size), source_for(hashes))  # type: ignore[arg-type]
        assert len(path) <= max(1, (size - 1).bit_length())
        assert verify_inclusion(hashes[index], index, size, path, root)
        # A wrong leaf, index, size or a damaged path fails.
        assert not verify_inclusion(leaf_hash(b"x"), index, size, path, root)
        if size > 1:
            assert not verify_inclusion(hashes[index], (index + 1) % size, size, path, root)
            damaged = [bytes(32)] + path[1:]
            assert not verify_inclusion(hashes[index], index, size, damaged, root)
        # (The size itself is vouched for by the signed tree head, not by the path.)


@pytest.mark.parametrize("second", range(1, 18))
def test_every_consistency_proof_verifies(second: int) -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(second)]
    second_root = root_of(hashes)
    for first in range(1, second + 1):
        first_root = root_of(hashes[:first])
        proof = proof_hashes(consistency_ranges(first, second), source_for(hashes))  # type: ignore[arg-type]
        assert verify_consistency(first, second, first_root, second_root, proof)
        if first < second:
            assert not verify_consistency(first, second, bytes(32), second_root, proof)
            assert not verify_consistency(first, second, first_root, bytes(32), proof)
            assert not verify_consistency(first, second, first_root, second_root, proof[1:])


def test_consistency_between_published_sizes() -> None:
    hashes = [leaf_hash(d) for d in LEAVES]
    proof = proof_hashes(consistency_ranges(1, 8), source_for(hashes))  # type: ignore[arg-type]
    assert [p.hex() for p in proof] == PATH_0_8


def test_ranges_split_into_aligned_perfect_subtrees() -> None:
    assert perfect_parts(0, 8) == [(3, 0)]
    assert perfect_parts(8, 15) == [(2, 2), (1, 6), (0, 14)]
    with pytest.raises(ValueError, match="not aligned"):
        perfect_parts(3, 8)


def test_bad_consistency_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        consistency_ranges(0, 4)
    with pytest.raises(ValueError):
        consistency_ranges(5, 4)
