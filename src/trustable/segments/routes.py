"""Segments over HTTP: one customer's, for a purpose; and the list, with counts.

A customer's segments are personal data: the key needs `read:<purpose>` (not even
`admin` reads without naming why), only segments that declare that purpose come
back, and only while the customer permits it; the read's ledger entry commits
before the answer leaves. The list of segments is the administrator's, and shows
how many members each has, never who.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from trustable.access.reads import purpose_for
from trustable.access.service import ApiKey
from trustable.api.deps import caller, needs, trustable
from trustable.core.errors import NotFound
from trustable.identity.service import customer_exists
from trustable.ledger import service as ledger
from trustable.segments.reads import read_for_purpose, summaries
from trustable.segments.schemas import (
    CustomerSegmentsOut,
    MembershipOut,
    SegmentOut,
    SegmentsOut,
)

router = APIRouter(tags=["segments"])
any_key = Depends(caller)
admin_key = Depends(needs("admin"))


@router.get("/v1/customers/{customer_id}/segments", response_model=CustomerSegmentsOut)
def customer_segments(
    customer_id: str, purpose: str, request: Request, key: ApiKey = any_key
) -> CustomerSegmentsOut:
    """The customer's segments that `purpose` may use now; needs `read:<purpose>`."""
    app = trustable(request)
    wanted = purpose_for(key, app.policy, purpose)
    with app.reader() as uow:
        live = customer_exists(uow, customer_id)
        if live is None:
            raise NotFound("no such customer", code="unknown_customer")
        found = read_for_purpose(uow, app.policy, live, wanted.key)
    with app.uow() as uow:
        ledger.submit(uow, app.vault, [found.ledger_record(key.key_id)], now=app.clock())
        uow.commit()
    return CustomerSegmentsOut(
        customer_id=found.customer_id,
        purpose=found.purpose,
        segments=[
            MembershipOut(
                name=m.segment, description=m.description, purposes=list(m.purposes), since=m.since
            )
            for m in found.segments
        ],
    )


@router.get("/v1/segments", response_model=SegmentsOut)
def list_segments(request: Request, key: ApiKey = admin_key) -> SegmentsOut:
    """Every segment the policy declares, with its member count ("<10" when small)."""
    app = trustable(request)
    with app.reader() as uow:
        found = summaries(uow, app.policy)
    return SegmentsOut(
        segments=[
            SegmentOut(
                name=s.name,
                description=s.description,
                purposes=list(s.purposes),
                rule=s.rule,
                members=s.members,
            )
            for s in found
        ]
    )
