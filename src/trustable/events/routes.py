"""Segment's HTTP Tracking API: `/v1/batch` and the single-message endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from trustable.access.service import ApiKey, authenticate, require
from trustable.api.deps import note_use, trustable
from trustable.bootstrap import Trustable
from trustable.core.errors import InvalidInput
from trustable.events.schemas import CollectResponse, collection_body
from trustable.events.segment import (
    MAX_BATCH_BYTES,
    TYPES,
    basic_auth_user,
    batch_too_large,
    decode_body,
    parse_batch,
    parse_document,
)
from trustable.events.service import ingest
from trustable.storage.failures import retrying

router = APIRouter(tags=["collection"])


async def _read_capped(request: Request) -> bytes:
    """The raw body, refused as soon as it passes the batch limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BATCH_BYTES:
        raise batch_too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BATCH_BYTES:
            raise batch_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _collect(
    app: Trustable,
    raw: bytes,
    *,
    encoding: str | None,
    authorization: str | None,
    single_type: str | None,
    gpc: bool,
) -> CollectResponse:
    header_key = basic_auth_user(authorization)
    # Batches about the same people at the same moment may collide in the store; the
    # loser starts over from the top and then finds what the other one committed
    # (`storage.failures`). Nothing of a run that was rolled back remains.
    return retrying(
        lambda: _collect_once(
            app,
            raw,
            encoding=encoding,
            header_key=header_key,
            single_type=single_type,
            gpc=gpc,
        )
    )


def _collect_once(
    app: Trustable,
    raw: bytes,
    *,
    encoding: str | None,
    header_key: str | None,
    single_type: str | None,
    gpc: bool,
) -> CollectResponse:
    # Authentication and parsing need no write lock: only `ingest` holds it.
    key: ApiKey | None = None
    if header_key is not None:
        with app.reader() as uow:
            key = authenticate(uow, header_key, now=app.clock())
        note_use(app, key)
        require(key, "collect")
    now = app.clock()
    body = decode_body(raw, encoding)
    batch = parse_batch(
        parse_document(body), single_type=single_type, received_at=now, body_size=len(body)
    )
    if key is None:
        with app.reader() as uow:
            key = authenticate(uow, batch.write_key, now=now)
        note_use(app, key)
        require(key, "collect")
    with app.uow() as uow:
        result = ingest(
            uow,
            app.vault,
            app.policy,
            batch.messages,
            now=now,
            actor=key.key_id,
            trusted=key.trusted_source,
            gpc=gpc,
        )
        uow.commit()
    return CollectResponse(
        received=result.received,
        stored=result.stored,
        duplicates=result.duplicates,
        fields_kept=result.fields_kept,
        fields_dropped=result.fields_dropped,
        joins_refused=result.joins_refused,
    )


async def _endpoint(request: Request, single_type: str | None) -> CollectResponse:
    # analytics.js sends JSON as text/plain, which spares the browser a preflight.
    kind = request.headers.get("content-type", "application/json").split(";", 1)[0].strip()
    if "json" not in kind and kind != "text/plain":
        raise InvalidInput("send Content-Type: application/json", code="invalid_content_type")
    raw = await _read_capped(request)
    return await run_in_threadpool(
        _collect,
        trustable(request),
        raw,
        encoding=request.headers.get("content-encoding"),
        authorization=request.headers.get("authorization"),
        single_type=single_type,
        # Global Privacy Control: only the exact value "1" is the signal.
        gpc=request.headers.get("sec-gpc") == "1",
    )


@router.post("/v1/batch", response_model=CollectResponse, openapi_extra=collection_body("batch"))
async def collect_batch(request: Request) -> CollectResponse:
    """Many messages at once: what the SDKs call. All are stored, or none."""
    return await _endpoint(request, None)


@router.post("/v1/b", response_model=CollectResponse, include_in_schema=False)
async def collect_batch_short(request: Request) -> CollectResponse:
    """`/v1/batch` under the name analytics.js's batching delivery posts to."""
    return await _endpoint(request, None)


def _single(kind: str) -> None:
    async def collect_one(request: Request) -> CollectResponse:
        return await _endpoint(request, kind)

    collect_one.__doc__ = f"One `{kind}` message."
    router.add_api_route(
        f"/v1/{kind}",
        collect_one,
        methods=["POST"],
        response_model=CollectResponse,
        name=f"collect_{kind}",
        openapi_extra=collection_body(kind),
    )
    # analytics.js posts each message to its type's first letter (`/v1/t`).
    router.add_api_route(
        f"/v1/{kind[0]}",
        collect_one,
        methods=["POST"],
        response_model=CollectResponse,
        name=f"collect_{kind}_short",
        include_in_schema=False,
    )


for _kind in TYPES:
    _single(_kind)
