"""The portal's API: the company's backend asks for a customer's sign-in link."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request

from trustable.access.service import ApiKey
from trustable.api.deps import needs, trustable
from trustable.core.errors import NotFound
from trustable.identity.service import customer_exists
from trustable.portal.schemas import LinkIn, LinkOut
from trustable.portal.service import issue_link

router = APIRouter(tags=["portal"])
linker = Depends(needs("portal", "admin"))


@router.post("/v1/portal/links", response_model=LinkOut, status_code=201)
def new_link(body: LinkIn, request: Request, key: ApiKey = linker) -> LinkOut:
    """A one-time link that opens the privacy portal signed in as this customer: the
    usual way a company embeds the portal behind its own sign-in. Hand it to the
    customer's browser at once; it works for `minutes` and once."""
    app = trustable(request)
    with app.uow() as uow:
        now = app.clock()
        live = customer_exists(uow, body.customer_id)
        if live is None:
            raise NotFound("no such customer", code="unknown_customer")
        token, expires = issue_link(
            uow, app.vault, live, actor=key.key_id, now=now, ttl=timedelta(minutes=body.minutes)
        )
        uow.commit()
    base = app.settings.public_url or str(request.base_url).rstrip("/")
    return LinkOut(url=f"{base}/portal/enter?token={token}", expires_at=expires)
