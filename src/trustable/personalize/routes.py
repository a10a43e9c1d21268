"""Recommendations over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from trustable.access.reads import purpose_for
from trustable.access.service import ApiKey
from trustable.api.deps import KEYED, caller, caller_in, trustable
from trustable.core.errors import NotFound
from trustable.identity.service import customer_exists
from trustable.personalize.guard import check, guard_of, log_guard
from trustable.personalize.runner import personalization
from trustable.personalize.schemas import ActionIn, GuardOut, RecommendationsOut
from trustable.personalize.service import MAX_ITEMS, log_recommendations, recommend, spec_of

router = APIRouter(tags=["personalization"])
guard_router = APIRouter(tags=["guard"])
any_key = Depends(caller)


@router.get(
    "/v1/customers/{customer_id}/recommendations",
    response_model=RecommendationsOut,
    dependencies=KEYED,
)
def recommendations(
    customer_id: str,
    request: Request,
    n: Annotated[int, Query(ge=1, le=MAX_ITEMS)] = 10,
) -> RecommendationsOut:
    """Personal recommendations with reasons when the customer allows it now; popular
    ones, said to be so, otherwise. The key needs `read:<personalization purpose>`."""
    app = trustable(request)
    with app.reader() as uow:
        key = caller_in(uow, request)
        purpose_for(key, app.policy, spec_of(app.policy).purpose)
        model = personalization(app).recommender()
        live = customer_exists(uow, customer_id)
        if live is None:
            raise NotFound("no such customer", code="unknown_customer")
        found = recommend(uow, app.vault, app.policy, model, customer_id=live, n=n)
    with app.uow() as uow:
        log_recommendations(uow, app.vault, found, actor=key.key_id, now=app.clock())
        uow.commit()
    return RecommendationsOut.of(found)


@guard_router.post("/v1/customers/{customer_id}/guard", response_model=GuardOut)
def guard(customer_id: str, body: ActionIn, request: Request, key: ApiKey = any_key) -> GuardOut:
    """Warnings that protect the customer before an action, from their own history;
    the key needs `read:<the guard's purpose>`."""
    app = trustable(request)
    purpose_for(key, app.policy, guard_of(app.policy).purpose)
    with app.reader() as uow:
        live = customer_exists(uow, customer_id)
        if live is None:
            raise NotFound("no such customer", code="unknown_customer")
        found = check(
            uow,
            app.vault,
            app.policy,
            customer_id=live,
            action=body.action,
            item=body.item,
            now=app.clock(),
        )
    with app.uow() as uow:
        log_guard(uow, app.vault, found, actor=key.key_id, now=app.clock())
        uow.commit()
    return GuardOut.of(found)
