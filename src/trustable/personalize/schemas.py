"""What a recommendations read shows: items and the customer's own reasons for them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from trustable.personalize.guard import Guarded
from trustable.personalize.service import Recommendations


class RecommendedOut(BaseModel):
    item: str
    title: str
    score: float
    reasons: list[str]
    categories: list[str]  # the kinds of the customer's data that led to it


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
                RecommendedOut(
                    item=r.item,
                    title=r.title,
                    score=r.score,
                    reasons=r.reasons,
                    categories=list(found.categories) if r.reasons else [],
                )
                for r in found.items
            ],
        )


class ActionIn(BaseModel):
    """What the customer is about to do."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"action": "purchase", "item": "sku-42"}]}
    )

    action: str = Field(min_length=1, max_length=64, description="e.g. purchase, subscribe")
    item: str = Field(min_length=1, max_length=200, description="e.g. the product's sku")


class GuardWarningOut(BaseModel):
    rule: str
    message: str


class GuardOut(BaseModel):
    customer_id: str
    purpose: str
    action: str
    checked: bool
    warnings: list[GuardWarningOut]

    @classmethod
    def of(cls, found: Guarded) -> GuardOut:
        return cls(
            customer_id=found.customer_id,
            purpose=found.purpose,
            action=found.action,
            checked=found.checked,
            warnings=[GuardWarningOut(rule=w.rule, message=w.message) for w in found.warnings],
        )
