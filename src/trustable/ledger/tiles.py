"""The ledger's tree as C2SP tlog-tiles lay it out, and a reader that trusts only tiles.

A tile at level L, index N holds 256 consecutive hashes, each the root of a perfect
subtree of 256^L leaves: level 0 tiles hold leaf hashes, level 1 tiles the roots of
full level 0 tiles, and so on. The rightmost tile of a level is *partial* (1 to 255
hashes, path suffix `.p/<W>`) until the tree grows past it. Any tlog-tiles client
recomputes a checkpoint's root from these, and builds inclusion and consistency
proofs by itself: the log answers no question about proofs, so it cannot tailor one.

`TileReader` is such a client, over any `fetch(path) -> bytes` (HTTP for a witness or
an auditor, the store itself in tests): a `merkle.NodeSource`, so `merkle`'s proof
and root functions run on tiles unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from trustable.ledger import merkle
from trustable.ledger.merkle import Node

HEIGHT = 8  # levels of the tree per tile level
WIDTH = 1 << HEIGHT  # hashes in a full tile
HASH = 32
MAX_LEVEL = 63

_LEVEL = re.compile(r"^(0|[1-9][0-9]?)$")
_WIDTH = re.compile(r"^[1-9][0-9]{0,2}$")


class TileError(ValueError):
    """A tile path that is not in the canonical form, or a tile that is not there
    or not the size it must be."""


def encode_index(index: int) -> str:
    """A tile index as zero-padded 3-digit path elements, all but the last with an
    `x`: 1234067 is `x001/x234/067`."""
    if index < 0:
        raise TileError("a tile index is not negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int, index: int, width: int = WIDTH) -> str:
    """`tile/<L>/<N>[.p/<W>]`, under the log's prefix."""
    suffix = "" if width == WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{suffix}"


def parse_tile_path(level: str, rest: str) -> tuple[int, int, int]:
    """(level, index, width) of `tile/<level>/<rest>`, accepting only the canonical
    spelling, so one tile has one address (and one cache entry)."""
    if not _LEVEL.match(level) or int(level) > MAX_LEVEL:
        raise TileError("a tile level is a number from 0 to 63 without leading zeros")
    width = WIDTH
    if ".p/" in rest:
        rest, _, given = rest.partition(".p/")
        if not _WIDTH.match(given) or not 1 <= int(given) < WIDTH:
            raise TileError("a partial tile's width is a number from 1 to 255")
        width = int(given)
    elements = rest.split("/")
    if not all(re.fullmatch(r"x[0-9]{3}", e) for e in elements[:-1]) or not re.fullmatch(
        r"[0-9]{3}", elements[-1]
    ):
        raise TileError("a tile index is 3-digit path elements, all but the last with 'x'")
    index = int("".join(e.lstrip("x") for e in elements))
    if encode_index(index) != rest:
        raise TileError("a tile index is written without leading zero groups")
    return int(level), index, width


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes tile (`level`, `index`) has in a tree of `size` leaves (0:
    none yet; `WIDTH`: full)."""
    span: int = WIDTH**level  # leaves under one hash of this level
    hashes = size // span - index * WIDTH
    return max(0, min(WIDTH, hashes))


def tiles_of(size: int) -> list[tuple[int, int, int]]:
    """Every tile of a tree of `size` leaves, as (level, index, width)."""
    found: list[tuple[int, int, int]] = []
    level = 0
    while size >= WIDTH**level and level <= MAX_LEVEL:
        hashes: int = size // WIDTH**level
        for index in range(-(-hashes // WIDTH)):
            found.append((level, index, tile_width(level, index, size)))
        level += 1
    return found


def subtree_hash(hashes: list[bytes]) -> bytes:
    """The root over 2^k hashes of one level (a perfect subtree)."""
    while len(hashes) > 1:
        hashes = [merkle.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


class TileReader:
    """Perfect subtree hashes of a tree of `size` leaves, computed from its tiles
    alone, each fetched once; usable wherever `merkle` asks for a `NodeSource`."""

    def __init__(self, fetch: Callable[[str], bytes], size: int) -> None:
        self._fetch = fetch
        self.size = size
        self._tiles: dict[tuple[int, int], list[bytes]] = {}

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of one tile, as wide as the tree of `size` makes it."""
        key = (level, index)
        found = self._tiles.get(key)
        if found is None:
            width = tile_width(level, index, self.size)
            if width == 0:
                raise TileError(f"tile {level}/{index} is beyond a tree of {self.size}")
            data = self._fetch(tile_path(level, index, width))
            if len(data) != width * HASH:
                raise TileError(
                    f"tile {tile_path(level, index, width)} has {len(data)} bytes, "
                    f"not {width * HASH}"
                )
            found = [data[i : i + HASH] for i in range(0, len(data), HASH)]
            self._tiles[key] = found
        return found

    def __call__(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        out: dict[Node, bytes] = {}
        for level, index in wanted:
            if (index + 1) << level > self.size:
                raise TileError(f"subtree ({level}, {index}) is beyond a tree of {self.size}")
            tile_level, rise = divmod(level, HEIGHT)
            first = index << rise  # its first hash at `tile_level`
            hashes: list[bytes] = []
            for position in range(first, first + (1 << rise)):
                tile_index, offset = divmod(position, WIDTH)
                hashes.append(self.tile(tile_level, tile_index)[offset])
            out[(level, index)] = subtree_hash(hashes)
        return out

    def root(self) -> bytes:
        """The tree's root hash (what its checkpoint must say)."""
        if self.size == 0:
            return merkle.EMPTY_ROOT
        parts = merkle.perfect_parts(0, self.size)
        return merkle.range_hash(0, self.size, self(parts))

    def consistency_proof(self, old: int) -> list[bytes]:
        """PROOF(old, D[0:size]), built from the tiles (an empty list for 0)."""
        if old == 0 or old == self.size:
            return []
        return merkle.proof_hashes(merkle.consistency_ranges(old, self.size), self)

    def inclusion_proof(self, index: int) -> list[bytes]:
        return merkle.proof_hashes(merkle.inclusion_ranges(index, self.size), self)
