"""The ledger over HTTP: signed heads, proofs, entries and the public key."""

from __future__ import annotations

from typing import Annotated

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse

from trustable.access.service import ApiKey
from trustable.api.deps import caller, needs, trustable
from trustable.core.errors import NotFound
from trustable.identity.service import customer_exists
from trustable.ledger import public, service, witnesses
from trustable.ledger.schemas import (
    ConsistencyOut,
    CustomerEntriesOut,
    EntryOut,
    HeadOut,
    InclusionOut,
    PendingOut,
    PublicKeyOut,
    b64,
)
from trustable.ledger.tiles import WIDTH, TileError, parse_tile_path

router = APIRouter(tags=["ledger"])
anyone_with_a_key = Depends(caller)
admin = Depends(needs("admin"))
Position = Annotated[int, Query(ge=0, le=service.MAX_INDEX)]
EntryIndex = Annotated[int, Path(ge=0, le=service.MAX_INDEX)]


@router.get("/v1/ledger/head", response_model=HeadOut)
def head(request: Request) -> HeadOut:
    """The latest signed tree head, for anyone: the sequencer signs one at least every
    `TRUSTABLE_LEDGER_INTERVAL` while the log grows (a store that never signed one
    signs the first here)."""
    app = trustable(request)
    with app.reader() as uow:
        signed = service.latest_head(uow)
    if signed is None:
        with app.uow() as uow:
            signed = service.sign_head(uow, app.vault, now=app.clock())
            uow.commit()
    return HeadOut.of(signed)


@router.get(
    "/ledger/checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def checkpoint(request: Request) -> Response:
    """The log's C2SP checkpoint (origin, size, root hash), signed by the log and
    cosigned by its witnesses, for anyone: c2sp.org/tlog-checkpoint."""
    published = witnesses.published(trustable(request))
    return Response(
        published.note.serialize(),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "public, max-age=2"},
    )


@router.get("/ledger/proof/consistency", response_model=ConsistencyOut)
def public_consistency(first: Position, second: Position, request: Request) -> ConsistencyOut:
    """RFC 9162 consistency proof between two published sizes, for anyone (a browser
    that remembers an earlier checkpoint). Only hashes; what it proves is checked
    against the two checkpoints' roots, so it cannot be tailored."""
    with trustable(request).reader() as uow:
        published = public.published_size(uow)
        if second > published:
            raise NotFound(
                f"the published log has {published} entries", code="beyond_checkpoint"
            )
        proof = service.consistency_proof(uow, first, second) if 0 < first else []
    return ConsistencyOut(first=first, second=second, proof=[b64(p) for p in proof])


@router.get(
    "/ledger/tile/{level}/{rest:path}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def tile(level: str, rest: str, request: Request) -> Response:
    """A tile of the log's Merkle tree, for anyone: c2sp.org/tlog-tiles. Hashes only:
    entry bundles (`tile/entries/…`) are not public, entries being a customer's."""
    if level == "entries":
        raise NotFound(
            "entries are not public: a customer reads theirs in the portal",
            code="entries_not_public",
        )
    try:
        at, index, width = parse_tile_path(level, rest)
    except TileError as exc:
        raise NotFound(str(exc), code="no_such_tile") from None
    with trustable(request).reader() as uow:
        data = public.read_tile(uow, at, index, width)
    if data is None:
        raise NotFound("the published tree does not hold this tile yet", code="no_such_tile")
    lasting = "max-age=31536000, immutable" if width == WIDTH else "max-age=60"
    return Response(
        data, media_type="application/octet-stream", headers={"Cache-Control": f"public, {lasting}"}
    )


@router.get("/v1/ledger/public-key", response_model=PublicKeyOut)
def public_key(request: Request, _: ApiKey = anyone_with_a_key) -> PublicKeyOut:
    """The Ed25519 key that signs tree heads."""
    raw = trustable(request).vault.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PublicKeyOut(public_key=b64(raw))


@router.get("/v1/ledger/entries/{index}", response_model=EntryOut)
def get_entry(index: EntryIndex, request: Request, _: ApiKey = anyone_with_a_key) -> EntryOut:
    """One entry: its canonical bytes (what the leaf hash covers) and their reading."""
    with trustable(request).reader() as uow:
        return EntryOut.of(service.entry(uow, index))


@router.get("/v1/ledger/proof/inclusion", response_model=InclusionOut)
def inclusion(
    index: Position, size: Position, request: Request, _: ApiKey = anyone_with_a_key
) -> InclusionOut:
    """RFC 9162 inclusion proof of entry `index` in the tree of `size` entries."""
    with trustable(request).reader() as uow:
        path = service.inclusion_proof(uow, index, size)
        leaf = service.entry(uow, index).leaf_hash
    return InclusionOut(index=index, size=size, leaf_hash=b64(leaf), path=[b64(p) for p in path])


@router.get("/v1/ledger/proof/consistency", response_model=ConsistencyOut)
def consistency(
    first: Position, second: Position, request: Request, _: ApiKey = anyone_with_a_key
) -> ConsistencyOut:
    """RFC 9162 consistency proof: the tree of `first` entries is a prefix of `second`'s."""
    with trustable(request).reader() as uow:
        proof = service.consistency_proof(uow, first, second)
    return ConsistencyOut(first=first, second=second, proof=[b64(p) for p in proof])


@router.get("/v1/customers/{customer_id}/ledger", response_model=CustomerEntriesOut)
def customer_ledger(customer_id: str, request: Request, _: ApiKey = admin) -> CustomerEntriesOut:
    """Every entry about one customer, with its index for proofs, and the records
    about them still being logged."""
    with trustable(request).reader() as uow:
        live = customer_exists(uow, customer_id)
        if live is None:
            raise NotFound("no such customer", code="unknown_customer")
        entries = service.customer_entries(uow, live)
        pending = service.customer_pending(uow, live)
    return CustomerEntriesOut(
        customer_id=live,
        entries=[EntryOut.of(e) for e in entries],
        pending=[PendingOut.of(p) for p in pending],
    )
