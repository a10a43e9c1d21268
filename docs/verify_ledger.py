#!/usr/bin/env python3
"""Check Trustable's transparency ledger from the outside.

Needs Python 3.11+ and the `cryptography` package (for Ed25519); nothing of Trustable's.
It implements docs/ledger.md: the RFC 9162 §2.1 hashes, the inclusion-proof and
consistency-proof verification algorithms (§2.1.3.2, §2.1.4.2) and the signed tree
head, and, run as a script, checks one entry of a live Trustable over HTTP:

    python verify_ledger.py https://trustable.example.com tk_key_… 42

It fetches the ledger's public key, the latest signed tree head, entry 42 and its
inclusion proof in that head, recomputes the entry's leaf hash from its bytes, and
says whether everything verifies (exit status 0) or not (exit status 1). Pass
`--public-key` with the key you obtained out of band to pin it.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEAD_ORIGIN = "trustable.ledger/v1"
ENTRY_FORMAT = 1
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_PSEUDONYM = re.compile(r"[0-9a-f]{32}")


# -- RFC 9162 §2.1: hashing ----------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the hash of one log entry (its canonical bytes)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _are_hashes(values: Sequence[object]) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


# -- RFC 9162 §2.1.3.2: verifying an inclusion proof ---------------------------------


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Does `path` prove that the entry with `leaf_hash` is entry number `index` of the
    tree of `size` entries whose root is `root`?"""
    if not (_is_size(index) and _is_size(size) and _are_hashes([leaf_hash, root, *path])):
        return False
    # 1. leaf_index must be smaller than tree_size.
    if index >= size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1.  3. r = the leaf hash.
    fn, sn, r = index, size - 1, leaf_hash
    # 4. For each p in the path:
    for p in path:
        # a. a path longer than the tree is high fails.
        if sn == 0:
            return False
        # b. p is a left sibling when fn is odd, or when fn is the last node of its level.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # ii. a last node with no right sibling moves up without hashing.
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        # c. one level up.
        fn >>= 1
        sn >>= 1
    # 5. the path must reach the top (sn == 0) and give the root.
    return sn == 0 and r == root


# -- RFC 9162 §2.1.4.2: verifying a consistency proof --------------------------------


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Does `proof` show that the tree of `first` entries with root `first_root` is the
    beginning of the tree of `second` entries with root `second_root`?"""
    if not (_is_size(first) and _is_size(second) and first <= second):
        return False
    if not _are_hashes([first_root, second_root, *proof]):
        return False
    if first == 0:
        # The empty tree is the beginning of every tree: nothing to prove.
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        # The same size: the proof is empty and the two roots are the same root.
        return not proof and first_root == second_root
    # 1. An empty proof proves nothing.
    if not proof:
        return False
    path = list(proof)
    # 2. When first is a power of two, the old root is itself a node of the new tree:
    #    the proof leaves it out, so put it first.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = first - 1, second - 1
    # 4. Skip the levels where the old tree's last node is a right child.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. Both running hashes start from the first value.
    fr = sr = path[0]
    # 6. For each further value c:
    for c in path[1:]:
        # a. a proof longer than the tree is high fails.
        if sn == 0:
            return False
        # b. c is a left sibling of both paths...
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        # ... or a right sibling that only the new tree has.
        else:
            sr = node_hash(sr, c)
        # c. one level up.
        fn >>= 1
        sn >>= 1
    # 7. Both roots come out, and the proof reached the top of the new tree.
    return sn == 0 and fr == first_root and sr == second_root


# -- the signed tree head --------------------------------------------------------------


def b64decode(text: object) -> bytes | None:
    """Standard base64 with padding (RFC 4648 §4), strictly; None when it is not."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def head_message(size: int, root: bytes, timestamp: str) -> bytes:
    """The four lines a tree head's signature covers, each ending in a newline."""
    return f"{HEAD_ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n{timestamp}\n".encode(
        "ascii"
    )


def verify_head(head_json: dict[str, Any] | str | bytes, public_key_b64: str) -> bool:
    """Is this tree head (the JSON of GET /v1/ledger/head, parsed or not) well formed and
    signed by the Ed25519 key `public_key_b64` (the raw 32-byte key, base64)?"""
    try:
        head = json.loads(head_json) if isinstance(head_json, str | bytes) else head_json
    except ValueError:
        return False
    if not isinstance(head, dict):
        return False
    size, timestamp = head.get("size"), head.get("timestamp")
    root = b64decode(head.get("root"))
    signature = b64decode(head.get("signature"))
    key = b64decode(public_key_b64)
    if (
        head.get("origin") != HEAD_ORIGIN
        or not _is_size(size)
        or root is None
        or len(root) != HASH_SIZE
        or not isinstance(timestamp, str)
        or not _TIMESTAMP.fullmatch(timestamp)
        or signature is None
        or len(signature) != 64
        or key is None
        or len(key) != 32
    ):
        return False
    if size == 0 and root != EMPTY_ROOT:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(
            signature, head_message(size, root, timestamp)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


# -- entries -------------------------------------------------------------------------


def canonical(value: Any) -> bytes:
    """The canonical encoding of an entry: JSON, keys sorted, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def entry_problems(entry_json: dict[str, Any], index: int) -> tuple[bytes | None, list[str]]:
    """(leaf hash recomputed from the entry's bytes, what is wrong with the entry).

    `entry_json` is the answer of GET /v1/ledger/entries/{index}.
    """
    body = b64decode(entry_json.get("body"))
    if body is None:
        return None, ["the entry's body is not base64"]
    problems: list[str] = []
    digest = leaf_hash(body)
    if b64decode(entry_json.get("leaf_hash")) != digest:
        problems.append("the served leaf hash is not SHA-256(0x00 || body)")
    try:
        content = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return digest, [*problems, "the body is not UTF-8 JSON"]
    if not isinstance(content, dict):
        return digest, [*problems, "the body is not a JSON object"]
    if canonical(content) != body:
        problems.append("the body is not in canonical form")
    if content.get("v") != ENTRY_FORMAT:
        problems.append(f"the body is not format {ENTRY_FORMAT}")
    if content.get("i") != index or entry_json.get("index") != index:
        problems.append(f"the body does not name itself entry {index}")
    if content.get("kind") != entry_json.get("kind"):
        problems.append("the body's kind is not the served kind")
    subject = content.get("subject")
    if subject is not None and not (isinstance(subject, str) and _PSEUDONYM.fullmatch(subject)):
        problems.append("the subject is not a pseudonym (32 hex characters)")
    if entry_json.get("content") != content:
        problems.append("the served content is not the body's reading")
    return digest, problems


# -- C2SP checkpoints and tiles: the audit with no key ------------------------------

TILE_WIDTH = 256


def parse_vkey(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key id, key) of a note verifier key `<name>+<hex id>+<base64(0x01||key)>`."""
    name, hex_id, material = vkey.strip().split("+", 2)
    raw = base64.b64decode(material, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        raise ValueError("not an Ed25519 note verifier key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != hex_id:
        raise ValueError("the verifier key's id does not match its name and key")
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def open_checkpoint(note: str, vkey: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a signed checkpoint note, once the log's signature on
    it verifies (other signatures, a witness's, are ignored here)."""
    name, key_id, key = parse_vkey(vkey)
    text, sep, block = note.rpartition("\n\n")
    if not sep or not note.endswith("\n"):
        raise ValueError("not a signed note")
    text += "\n"
    signed = False
    for line in block.splitlines():
        dash, _, rest = line.partition(" ")
        signer, _, signature = rest.partition(" ")
        if dash != "\u2014" or signer != name:
            continue
        raw = base64.b64decode(signature, validate=True)
        if raw[:4] != key_id:
            continue
        try:
            key.verify(raw[4:], text.encode())
        except InvalidSignature:
            raise ValueError("the log's signature on the checkpoint does not verify") from None
        signed = True
    if not signed:
        raise ValueError("the checkpoint carries no signature by the log's key")
    lines = text.splitlines()
    if len(lines) < 3 or not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise ValueError("not a checkpoint")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != HASH_SIZE:
        raise ValueError("a checkpoint's root is 32 bytes")
    return lines[0], int(lines[1]), root


def tile_path(level: int, index: int, width: int) -> str:
    """`tile/<L>/<N>[.p/<W>]`, N in 3-digit groups, all but the last with an `x`."""
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{'/'.join(reversed(groups))}{suffix}"


class Tiles:
    """Subtree hashes of a tree of `size` leaves, from its tiles alone."""

    def __init__(self, base_url: str, size: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.size = size
        self.fetched: dict[tuple[int, int], list[bytes]] = {}

    def width(self, level: int, index: int) -> int:
        span: int = TILE_WIDTH**level
        return max(0, min(TILE_WIDTH, self.size // span - index * TILE_WIDTH))

    def tile(self, level: int, index: int) -> list[bytes]:
        if (level, index) not in self.fetched:
            width = self.width(level, index)
            path = tile_path(level, index, width)
            try:
                with urllib.request.urlopen(f"{self.base_url}/ledger/{path}", timeout=30) as r:
                    data = r.read()
            except (urllib.error.URLError, OSError) as exc:
                raise Refused(f"GET /ledger/{path} failed: {exc}") from None
            if width == 0 or len(data) != width * HASH_SIZE:
                raise Refused(f"tile {path} is not {width} hashes")
            self.fetched[(level, index)] = [data[i : i + 32] for i in range(0, len(data), 32)]
        return self.fetched[(level, index)]

    def subtree(self, height: int, index: int) -> bytes:
        """The root of leaves [index * 2^height, (index + 1) * 2^height)."""
        level, rise = divmod(height, 8)
        hashes = []
        for position in range(index << rise, (index + 1) << rise):
            hashes.append(self.tile(level, position // TILE_WIDTH)[position % TILE_WIDTH])
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range the proofs use (aligned perfect subtrees)."""
        parts = []
        while start < end:
            k = 1 << ((end - start).bit_length() - 1)
            if k == end - start and start % k == 0:
                parts.append(self.subtree(k.bit_length() - 1, start // k))
                break
            k = 1 << ((end - start - 1).bit_length() - 1)
            parts.append(self.subtree(k.bit_length() - 1, start // k))
            start += k
        acc = parts[-1]
        for part in reversed(parts[:-1]):
            acc = node_hash(part, acc)
        return acc

    def root(self) -> bytes:
        return EMPTY_ROOT if self.size == 0 else self.range_hash(0, self.size)

    def consistency_proof(self, first: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(first, D[0:size]), from the tiles."""
        ranges: list[tuple[int, int]] = []
        start, end, m, complete = 0, self.size, first, True
        while m != end - start:
            k = 1 << ((end - start - 1).bit_length() - 1)
            if m <= k:
                ranges.append((start + k, end))
                end = start + k
            else:
                ranges.append((start, start + k))
                start, m, complete = start + k, m - k, False
        if not complete:
            ranges.append((start, end))
        return [self.range_hash(a, b) for a, b in reversed(ranges)]

    def check_every_tile(self) -> list[str]:
        """Recompute each published hash tile above level 0 from the one below."""
        problems = []
        level = 1
        while self.size >= TILE_WIDTH**level:
            for index in range(-(-(self.size // TILE_WIDTH**level) // TILE_WIDTH)):
                for offset, got in enumerate(self.tile(level, index)):
                    below = self.tile(level - 1, index * TILE_WIDTH + offset)
                    while len(below) > 1:
                        below = [node_hash(below[i], below[i + 1]) for i in range(0, len(below), 2)]
                    if below[0] != got:
                        problems.append(f"tile {tile_path(level, index, 256)}: hash {offset}")
            level += 1
        return problems


def audit(base_url: str, vkey: str, state: str | None, full: bool) -> list[str]:
    """Audit the log at `base_url` from its public checkpoint and tiles alone."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/ledger/checkpoint", timeout=30) as r:
            note = r.read().decode("utf-8")
    except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
        return [f"GET /ledger/checkpoint failed: {exc}"]
    try:
        origin, size, root = open_checkpoint(note, vkey)
    except ValueError as exc:
        return [str(exc)]
    print(f"checkpoint      {origin}, size {size}: signed by the log")
    tiles = Tiles(base_url, size)
    if tiles.root() != root:
        return ["the tiles do not add up to the checkpoint's root: the log is not what it signed"]
    print(f"root            recomputed from {len(tiles.fetched)} tiles: ok")
    if full:
        problems = tiles.check_every_tile()
        if problems:
            return problems
        print(f"every tile      {len(tiles.fetched)} tiles, each agrees with the level below")
    if state is None:
        return []
    try:
        with open(state, encoding="utf-8") as remembered:
            old_origin, old_size, old_root = remembered.read().split()
    except FileNotFoundError:
        old_origin = ""
    if old_origin:
        if old_origin != origin:
            return [f"the state file is for another log ({old_origin})"]
        first, first_root = int(old_size), base64.b64decode(old_root)
        if first > size:
            return [f"the log shrank: it had {first} entries, its checkpoint now says {size}"]
        proof = tiles.consistency_proof(first) if 0 < first < size else []
        if not verify_consistency(first, size, first_root, root, proof):
            return [f"the log of {first} entries seen before is not the start of this one"]
        print(f"consistency     the log of {first} seen before is the start of {size}: ok")
    with open(state, "w", encoding="utf-8") as remembered:
        remembered.write(f"{origin} {size} {base64.b64encode(root).decode()}\n")
    return []


# -- over HTTP -----------------------------------------------------------------------


class Refused(Exception):
    """The server did not answer with what was asked for."""


def fetch(base_url: str, path: str, api_key: str, **params: int) -> dict[str, Any]:
    url = base_url.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            document = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        try:
            raw = exc.read()
        finally:
            exc.close()
        try:
            error = json.loads(raw)
            detail = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            detail = "no JSON error"
        raise Refused(f"GET {path} answered {exc.code} ({detail})") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Refused(f"GET {path} failed: {exc}") from None
    if not isinstance(document, dict):
        raise Refused(f"GET {path} did not answer a JSON object")
    return document


def check(base_url: str, api_key: str, index: int, pinned_key: str | None = None) -> list[str]:
    """Verify entry `index` of the ledger at `base_url`; return the problems found."""
    key = fetch(base_url, "/v1/ledger/public-key", api_key).get("public_key")
    if not isinstance(key, str):
        return ["the public key is missing"]
    print(f"public key      {key}")
    if pinned_key is not None and key != pinned_key:
        return ["the server's public key is not the pinned one"]
    head = fetch(base_url, "/v1/ledger/head", api_key)
    if not verify_head(head, key):
        return ["the tree head's signature does not verify"]
    size, root = head["size"], b64decode(head["root"])
    assert root is not None
    print(f"signed head     size {size}, root {head['root']}, at {head['timestamp']}: ok")
    if not index < size:
        return [f"entry {index} is not in the signed head of {size} entries"]
    entry = fetch(base_url, f"/v1/ledger/entries/{index}", api_key)
    digest, problems = entry_problems(entry, index)
    if digest is None or problems:
        return problems
    print(f"entry {index:<9} {entry['kind']}, leaf hash {base64.b64encode(digest).decode()}: ok")
    proof = fetch(base_url, "/v1/ledger/proof/inclusion", api_key, index=index, size=size)
    path = [b64decode(p) for p in proof.get("path", [])]
    hashes = [p for p in path if p is not None]
    if len(hashes) != len(path) or not verify_inclusion(digest, index, size, hashes, root):
        return [f"the inclusion proof of entry {index} in the head of {size} does not verify"]
    print(f"inclusion proof {len(hashes)} hashes: ok")
    return []


def main_audit(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="verify_ledger.py audit",
        description="Audit a Trustable ledger from its public checkpoint and tiles.",
    )
    parser.add_argument("base_url", help="where Trustable answers, e.g. https://cdp.example.com")
    parser.add_argument("vkey", help="the log's note verifier key (trustable ledger key)")
    parser.add_argument("--state", help="a file remembering the last checkpoint seen")
    parser.add_argument("--full", action="store_true", help="check every hash tile too")
    args = parser.parse_args(argv)
    try:
        problems = audit(args.base_url, args.vkey, args.state, args.full)
    except Refused as exc:
        problems = [str(exc)]
    except ValueError as exc:
        problems = [f"bad input: {exc}"]
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        return 1
    print("verified: the log is what it signed, and it only grew")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["audit"]:
        return main_audit(argv[1:])
    parser = argparse.ArgumentParser(
        description="Verify one entry of a Trustable transparency ledger over HTTP."
    )
    parser.add_argument("base_url", help="where Trustable answers, e.g. https://cdp.example.com")
    parser.add_argument("api_key", help="any Trustable API key (sent as a Bearer token)")
    parser.add_argument("index", type=int, help="the index of the entry to verify")
    parser.add_argument(
        "--public-key", help="the ledger's public key (base64) as obtained out of band"
    )
    args = parser.parse_args(argv)
    if args.index < 0:
        parser.error("index must be 0 or more")
    try:
        problems = check(args.base_url, args.api_key, args.index, args.public_key)
    except Refused as exc:
        problems = [str(exc)]
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        return 1
    print(f"verified: entry {args.index} is in the log the server signed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
