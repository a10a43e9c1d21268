"""RFC 9162 §2.1 Merkle tree hashing, proofs and their verification, with no storage.

The tree over entries d(0) … d(n-1):
    MTH({})      = SHA-256()
    leaf hash    = SHA-256(0x00 || d(i))
    MTH(D[0:n])  = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),  k the largest power of
                   two smaller than n.
A range D[a:b] that starts on a multiple of a power of two at least its length (every
range the proofs need does) is a chain of perfect subtrees, largest first; a perfect
subtree is named (level, index): it covers leaves [index·2^level, (index+1)·2^level).
Proof generation asks a `NodeSource` for the perfect subtrees it needs, all at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

Node = tuple[int, int]  # (level, index)
NodeSource = Callable[[Iterable[Node]], dict[Node, bytes]]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over a list of leaf hashes, straight from the definition (tests, small trees)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


def perfect_parts(start: int, end: int) -> list[Node]:
    """The perfect subtrees that make up D[start:end], left to right, largest first."""
    parts: list[Node] = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1
        if size == 1 << level and start % (1 << level) == 0:
            parts.append((level, start >> level))
            break
        k = split(size) if size > 1 else 1
        level = k.bit_length() - 1
        if start % k:
            raise ValueError(f"range [{start}, {end}) is not aligned")
        parts.append((level, start >> level))
        start += k
    return parts


def range_hash(start: int, end: int, nodes: dict[Node, bytes]) -> bytes:
    """MTH(D[start:end]) from its perfect subtrees (which `nodes` must hold)."""
    parts = perfect_parts(start, end)
    acc = nodes[parts[-1]]
    for part in reversed(parts[:-1]):
        acc = node_hash(nodes[part], acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PATH(index, D[0:size]), leaf end first."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PROOF(first, D[0:second]) (RFC 9162 §2.1.4.1)."""
    if not 0 < first <= second:
        raise ValueError("consistency needs 0 < first <= second")
    if first == second:
        return []
    ranges: list[tuple[int, int]] = []
    start, end, complete = 0, second, True  # SUBPROOF(m, D[start:end], b)
    m = first
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = split(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            complete = False
    ranges.reverse()
    return ranges


def needed(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    return {part for a, b in ranges for part in perfect_parts(a, b)}


def proof_hashes(ranges: list[tuple[int, int]], source: NodeSource) -> list[bytes]:
    nodes = source(needed(ranges))
    return [range_hash(a, b, nodes) for a, b in ranges]


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `path` prove leaf hash `leaf` at `index` in a tree of
    `size` leaves with root `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does `proof` show the tree of `first` leaves is a prefix of
    the tree of `second` leaves?"""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root starts the path
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
