"""What a recommendations read shows: items and the customer's own reasons for them."""

from __future__ import annotations

from pydantic import BaseModel

from trustable.personalize.service import Recommendations


class RecommendedOut(BaseModel):
    item: str
    title: str
    score: float
    reasons: list[str]


class RecommendationsOut(BaseModel):
    customer_id: str
    purpose: str
    personal: bool
    note: str | None
    items: list[RecommendedOut]

    @classmethod
    def of(cls, found: Recommendations) -> RecommendationsOut:
        return cls(
            customer_id=found.customer_id,
            purpose=found.purpose,
            personal=found.personal,
            note=found.note,
            items=[
                RecommendedOut(item=r.item, title=r.title, score=r.score, reasons=r.reasons)
                for r in found.items
            ],
        )
