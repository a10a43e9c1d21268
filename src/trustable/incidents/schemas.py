"""What the incidents API takes and shows: ids, counts, categories, dates; no values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trustable.incidents.affected import AffectedCustomer
from trustable.incidents.service import Incident, Step


class IncidentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Backup bucket briefly public",
                    "window_start": "2026-11-30T08:00:00Z",
                    "window_end": "2026-11-30T09:30:00Z",
                    "store": "backup",
                    "categories": ["user.contact.email", "user.behavior.purchase_history"],
                    "exposed": "ciphertext",
                    "measures": "Bucket made private; access logs reviewed.",
                }
            ]
        },
    )

    title: str = Field(min_length=1, max_length=200, description="no personal data")
    discovered_at: datetime | None = Field(None, description="default: now")
    window_start: datetime
    window_end: datetime
    store: str = Field(max_length=32, description="data_store, key_store, destination, backup")
    destination: str | None = Field(None, max_length=64)
    categories: list[str] = Field(max_length=100, description="fideslang data-category keys")
    exposed: str = Field(max_length=32, description="ciphertext, keys, both or cleartext")
    measures: str = Field("", max_length=5000, description="what was done about it")


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"anyway": False}]})

    anyway: bool = Field(False, description="send although the risk is low (Art. 34(3)(a))")


class SubmitIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"delay_reason": None}]}
    )

    delay_reason: str | None = Field(None, max_length=2000, description="after 72 hours")


class StepOut(BaseModel):
    at: datetime
    step: str
    actor: str
    detail: dict[str, Any]
    ledger_index: int | None

    @classmethod
    def of(cls, step: Step) -> StepOut:
        return cls(**step.__dict__)


class IncidentOut(BaseModel):
    incident_id: str
    title: str
    discovered_at: datetime
    window_start: datetime
    window_end: datetime
    store: str
    destination: str | None
    categories: list[str]
    exposed: str
    risk: str
    status: str
    measures: str
    people: int
    records: int
    by_category: dict[str, int]
    report_due: datetime
    approved_at: datetime | None
    report_submitted_at: datetime | None
    timeline: list[StepOut] | None = None

    @classmethod
    def of(cls, incident: Incident, steps: list[Step] | None = None) -> IncidentOut:
        return cls(
            incident_id=incident.incident_id,
            title=incident.title,
            discovered_at=incident.discovered_at,
            window_start=incident.window_start,
            window_end=incident.window_end,
            store=incident.store.value,
            destination=incident.destination,
            categories=list(incident.categories),
            exposed=incident.exposed.value,
            risk=incident.risk.value,
            status=incident.status.value,
            measures=incident.measures,
            people=incident.people,
            records=incident.records,
            by_category=incident.by_category,
            report_due=incident.report_due,
            approved_at=incident.approved_at,
            report_submitted_at=incident.report_submitted_at,
            timeline=None if steps is None else [StepOut.of(s) for s in steps],
        )


class AffectedOut(BaseModel):
    customer_id: str
    categories: list[str]
    records: int
    notice: str

    @classmethod
    def of(cls, c: AffectedCustomer) -> AffectedOut:
        return cls(
            customer_id=c.customer_id,
            categories=list(c.categories),
            records=c.records,
            notice=c.notice.value,
        )


class SentOut(BaseModel):
    incident_id: str
    sent: int
    no_email: int
