"""Destinations over HTTP: delivery states, dead letters, and requeueing them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from trustable.access.service import ApiKey
from trustable.api.deps import needs, trustable
from trustable.destinations import service
from trustable.destinations.schemas import DeadLetterOut, DestinationOut, RetriedOut

router = APIRouter(tags=["destinations"])
admin = Depends(needs("admin"))


@router.get("/v1/destinations", response_model=list[DestinationOut])
def list_destinations(request: Request, _: ApiKey = admin) -> list[DestinationOut]:
    """Each destination of the policy with its deliveries by state."""
    app = trustable(request)
    with app.reader() as uow:
        found = service.status(uow, app.policy)
    return [
        DestinationOut(name=d.name, url=d.url, purposes=list(d.purposes), **d.counts) for d in found
    ]


@router.get("/v1/destinations/{name}/dead", response_model=list[DeadLetterOut])
def dead(name: str, request: Request, _: ApiKey = admin) -> list[DeadLetterOut]:
    """Deliveries given up on after their last attempt, with the reason (no content)."""
    app = trustable(request)
    with app.reader() as uow:
        letters = service.dead_letters(uow, app.policy, name)
    return [DeadLetterOut.model_validate(d, from_attributes=True) for d in letters]


@router.post("/v1/destinations/{name}/retry", response_model=RetriedOut)
def retry(name: str, request: Request, _: ApiKey = admin) -> RetriedOut:
    """Queue a destination's dead deliveries again (consent is checked again on send)."""
    app = trustable(request)
    with app.uow() as uow:
        count = service.retry_dead(uow, app.policy, name, now=app.clock())
        uow.commit()
    return RetriedOut(requeued=count)
