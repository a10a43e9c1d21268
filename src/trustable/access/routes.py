"""Purpose-bound reads over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from trustable.access.reads import MAX_EVENTS, purpose_for, read_profile
from trustable.access.schemas import LookupIn, ProfileOut
from trustable.access.service import ApiKey
from trustable.api.deps import caller, trustable
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
) -> ProfileOut:
    """What `purpose` may use of this customer now; the key needs `read:<purpose>`."""
    app = trustable(request)
    wanted = purpose_for(key, app.policy, purpose)
    with app.uow() as uow:
        live = customer_exists(uow, customer_id)
        if live is None:
            raise NotFound("no such customer", code="unknown_customer")
        found = read_profile(
            uow,
            app.vault,
            app.policy,
            customer_id=live,
            purpose=wanted,
            actor=key.key_id,
            now=app.clock(),
            limit=limit,
        )
        uow.commit()
    return ProfileOut.of(found)


@router.post("/v1/profiles/lookup", response_model=ProfileOut)
def lookup(body: LookupIn, request: Request, key: ApiKey = any_key) -> ProfileOut:
    """The same read, for the customer holding an identifier given in the body."""
    app = trustable(request)
    wanted = purpose_for(key, app.policy, body.purpose)
    with app.uow() as uow:
        customer_id = find_customer(uow, app.vault, body.identifier.type, body.identifier.value)
        if customer_id is None:
            raise NotFound("no customer holds this identifier", code="unknown_customer")
        found = read_profile(
            uow,
            app.vault,
            app.policy,
            customer_id=customer_id,
            purpose=wanted,
            actor=key.key_id,
            now=app.clock(),
            limit=body.limit,
        )
        uow.commit()
    return ProfileOut.of(found)
