"""Aggregates over HTTP, for keys holding the `analytics` scope; the key is the
analyst whose budget a private answer spends."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from trustable.access.service import ApiKey
from trustable.analytics import runner
from trustable.analytics.schemas import AggregateQuery, AnswerOut, BudgetOut
from trustable.api.deps import needs, trustable

router = APIRouter(tags=["analytics"])
analyst = Depends(needs("analytics"))


@router.post("/v1/aggregates", response_model=AnswerOut)
def aggregate(query: AggregateQuery, request: Request, key: ApiKey = analyst) -> AnswerOut:
    """A count, sum or distribution over customers who permit analytics: groups of
    fewer than k suppressed; with `private`, noised and paid for in epsilon."""
    return AnswerOut.of(runner.ask(trustable(request), query, analyst=key.key_id))


@router.get("/v1/aggregates/budget", response_model=BudgetOut)
def budget(request: Request, key: ApiKey = analyst) -> BudgetOut:
    """This key's privacy budget today: spent, left, and when it resets."""
    return BudgetOut.of(runner.remaining(trustable(request), analyst=key.key_id))
