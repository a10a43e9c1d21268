"""Purpose-bound reads over HTTP."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from trustable.access.reads import MAX_EVENTS, Profile, log_read, purpose_for, read_profile
from trustable.access.schemas import LookupIn, ProfileOut
from trustable.access.service import ApiKey
from trustable.api.deps import caller, trustable
from trustable.bootstrap import Trustable
from trustable.core.errors import NotFound
from trustable.identity.service import customer_exists, find_customer

router = APIRouter(tags=["reads"])
any_key = Depends(caller)


@router.get("/v1/customers/{customer_id}/profile", response_model=ProfileOut)
def profile(
    customer_id: str,
    purpose: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = MAX_EVENTS,
    key: ApiKey = any_key,
) -> Response:
    """What `purpose` may use of this customer now; the key needs `read:<purpose>`."""
    app = trustable(request)
    wanted = purpose_for(key, app.policy, purpose)
    with app.reader() as uow:
        live = customer_exists(uow, customer_id)
        if live is None:
            raise NotFound("no such customer", code="unknown_customer")
        found = read_profile(
            uow, app.vault, app.policy, customer_id=live, purpose=wanted, limit=limit
        )
    return _logged(app, found, key)


@router.post("/v1/profiles/lookup", response_model=ProfileOut)
def lookup(body: LookupIn, request: Request, key: ApiKey = any_key) -> Response:
    """The same read, for the customer holding an identifier given in the body."""
    app = trustable(request)
    wanted = purpose_for(key, app.policy, body.purpose)
    with app.reader() as uow:
        customer_id = find_customer(uow, app.vault, body.identifier.type, body.identifier.value)
        if customer_id is None:
            raise NotFound("no customer holds this identifier", code="unknown_customer")
        found = read_profile(
            uow, app.vault, app.policy, customer_id=customer_id, purpose=wanted, limit=body.limit
        )
    return _logged(app, found, key)


def _logged(app: Trustable, found: Profile, key: ApiKey) -> Response:
    """Commit the read's ledger entry, then answer: no data leaves unlogged."""
    with app.uow() as uow:
        log_read(uow, app.vault, found, actor=key.key_id, now=app.clock())
        uow.commit()
    return _answer(found)


def _answer(found: Profile) -> Response:
    """The profile as JSON in `ProfileOut`'s shape, encoded once by orjson: a read of a
    thousand events is mostly this, and a model (or a dict) per event would add to it."""
    body = {
        "customer_id": found.customer_id,
        "purpose": found.purpose,
        "traits": found.traits,
        "events": found.events,  # dataclasses: orjson writes their fields in order
        "withheld": [
            {"category": w.category, "reason": w.reason.value, "count": w.count}
            for w in found.withheld
        ],
    }
    return Response(orjson.dumps(body), media_type="application/json")
