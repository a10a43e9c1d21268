"""Incidents over HTTP (scope `incidents`): thin routes over the incidents services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from trustable.access.service import ApiKey
from trustable.api.deps import needs, trustable
from trustable.incidents import runner, service
from trustable.incidents.affected import affected_customers
from trustable.incidents.notices import preview
from trustable.incidents.report import regulator_report, submit_report
from trustable.incidents.schemas import (
    AffectedOut,
    IncidentIn,
    IncidentOut,
    SendIn,
    SentOut,
    SubmitIn,
)

router = APIRouter(tags=["incidents"])
officer = Depends(needs("incidents"))


def portal_url(request: Request) -> str:
    s = trustable(request).settings
    return (s.public_url or str(request.base_url)).rstrip("/") + "/portal"


@router.post("/v1/incidents", response_model=IncidentOut, status_code=201)
def record(body: IncidentIn, request: Request, key: ApiKey = officer) -> IncidentOut:
    """Record an incident; the affected set is computed in the same transaction."""
    app = trustable(request)
    with app.uow() as uow:
        now = app.clock()
        found = service.record_incident(
            uow,
            app.vault,
            app.policy,
            title=body.title,
            discovered_at=body.discovered_at or now,
            window_start=body.window_start,
            window_end=body.window_end,
            store=body.store,
            destination=body.destination,
            categories=body.categories,
            exposed=body.exposed,
            measures=body.measures,
            actor=key.key_id,
            now=now,
        )
        steps = service.timeline(uow, found.incident_id)
        uow.commit()
    return IncidentOut.of(found, steps)


@router.get("/v1/incidents", response_model=list[IncidentOut])
def list_all(request: Request, key: ApiKey = officer) -> list[IncidentOut]:
    with trustable(request).reader() as uow:
        return [IncidentOut.of(i) for i in service.list_incidents(uow)]


@router.get("/v1/incidents/{incident_id}", response_model=IncidentOut)
def show(incident_id: str, request: Request, key: ApiKey = officer) -> IncidentOut:
    with trustable(request).reader() as uow:
        found = service.get_incident(uow, incident_id)
        return IncidentOut.of(found, service.timeline(uow, incident_id))


@router.get("/v1/incidents/{incident_id}/affected", response_model=list[AffectedOut])
def affected(
    incident_id: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    key: ApiKey = officer,
) -> list[AffectedOut]:
    """The affected customers by id, their categories and notice states."""
    with trustable(request).reader() as uow:
        service.get_incident(uow, incident_id)
        return [AffectedOut.of(c) for c in affected_customers(uow, incident_id, limit=limit)]


@router.get("/v1/incidents/{incident_id}/notice")
def notice(incident_id: str, request: Request, key: ApiKey = officer) -> dict[str, Any]:
    """A drafted notice, as a customer will read it."""
    app = trustable(request)
    with app.reader() as uow:
        found = preview(
            uow, app.policy, service.get_incident(uow, incident_id), portal_url=portal_url(request)
        )
    return {"subject": found.subject, "body": found.body} if found else {"subject": None}


@router.post("/v1/incidents/{incident_id}/approve", response_model=IncidentOut)
def approve(incident_id: str, request: Request, key: ApiKey = officer) -> IncidentOut:
    app = trustable(request)
    with app.uow() as uow:
        found = service.approve_notices(
            uow,
            app.vault,
            service.get_incident(uow, incident_id),
            actor=key.key_id,
            now=app.clock(),
        )
        uow.commit()
    return IncidentOut.of(found)


@router.post("/v1/incidents/{incident_id}/send", response_model=SentOut)
def send(
    incident_id: str, request: Request, body: SendIn | None = None, key: ApiKey = officer
) -> SentOut:
    """Send the approved notices, once; mail leaves after the commit."""
    app = trustable(request)
    sending = runner.send(
        app,
        incident_id,
        portal_url=portal_url(request),
        actor=key.key_id,
        anyway=body.anyway if body else False,
    )
    return SentOut(incident_id=incident_id, sent=sending.sent, no_email=sending.no_email)


@router.get("/v1/incidents/{incident_id}/report")
def report(incident_id: str, request: Request, key: ApiKey = officer) -> dict[str, Any]:
    """The regulator's report (GDPR Art. 33(3)) and the 72-hour clock."""
    app = trustable(request)
    with app.reader() as uow:
        return regulator_report(
            uow, app.policy, service.get_incident(uow, incident_id), now=app.clock()
        )


@router.post("/v1/incidents/{incident_id}/submit", response_model=IncidentOut)
def submit(
    incident_id: str, request: Request, body: SubmitIn | None = None, key: ApiKey = officer
) -> IncidentOut:
    app = trustable(request)
    with app.uow() as uow:
        found = submit_report(
            uow,
            app.vault,
            service.get_incident(uow, incident_id),
            actor=key.key_id,
            now=app.clock(),
            delay_reason=body.delay_reason if body else None,
        )
        uow.commit()
    return IncidentOut.of(found)
