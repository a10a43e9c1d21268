"""Reading and changing a customer's consents over HTTP."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from trustable.access.service import ApiKey
from trustable.api.deps import needs, trustable
from trustable.consent import banner, receipts, service
from trustable.consent.schemas import (
    BannerChoices,
    BannerChoicesOut,
    ConsentByIdentifier,
    ConsentChange,
    ConsentChangeOut,
    ConsentHistoryOut,
    ConsentRecordOut,
    ConsentsOut,
    PurposeConsentOut,
    SignedReceiptOut,
)
from trustable.core.errors import Forbidden, NotFound
from trustable.identity.kinds import normalise
from trustable.identity.service import customer_exists
from trustable.storage.failures import retrying
from trustable.storage.uow import UnitOfWork

router = APIRouter(tags=["consent"])
reader = Depends(needs("consent:read", "consent:write"))
writer = Depends(needs("consent:write"))
collector = Depends(needs("collect"))


def _live(uow: UnitOfWork, customer_id: str) -> str:
    live = customer_exists(uow, customer_id)
    if live is None:
        raise NotFound("no such customer", code="unknown_customer")
    return live


def _out(record: service.ConsentRecord) -> ConsentRecordOut:
    return ConsentRecordOut.model_validate(record, from_attributes=True)


def _changed(request: Request, record: service.ConsentRecord) -> ConsentChangeOut:
    """The change's record with its signed receipt.

    Signed after the commit, on purpose: a decision (a withdrawal above all) must
    stand even if signing fails, and its receipt can be fetched again later, since it
    is rebuilt from the record.
    """
    app = trustable(request)
    signed = receipts.issue_receipt(record, app.policy, app.vault)
    return ConsentChangeOut(
        **_out(record).model_dump(), receipt=SignedReceiptOut.model_validate(signed)
    )


@router.get("/v1/customers/{customer_id}/consents", response_model=ConsentsOut)
def get_consents(customer_id: str, request: Request, _: ApiKey = reader) -> ConsentsOut:
    """Where every purpose of the policy stands for this customer now."""
    app = trustable(request)
    with app.reader() as uow:
        live = _live(uow, customer_id)
        rows = service.current_consents(uow, app.policy, live)
    return ConsentsOut(
        customer_id=live,
        notice_version=app.policy.notice_version,
        purposes=[
            PurposeConsentOut(
                name=app.policy.purposes[r.purpose].spec.name,
                **{k: getattr(r, k) for k in PurposeConsentOut.model_fields if k != "name"},
            )
            for r in rows
        ],
    )


@router.get("/v1/customers/{customer_id}/consents/history", response_model=ConsentHistoryOut)
def get_history(customer_id: str, request: Request, _: ApiKey = reader) -> ConsentHistoryOut:
    """Every consent decision this customer made, oldest first."""
    app = trustable(request)
    with app.reader() as uow:
        live = _live(uow, customer_id)
        records = service.consent_history(uow, live)
    return ConsentHistoryOut(customer_id=live, records=[_out(r) for r in records])


@router.put("/v1/customers/{customer_id}/consents/{purpose}", response_model=ConsentChangeOut)
def put_consent(
    customer_id: str, purpose: str, change: ConsentChange, request: Request, key: ApiKey = writer
) -> ConsentChangeOut:
    """Record a decision; it governs the very next event collected. The answer carries
    the decision's signed receipt."""
    app = trustable(request)
    with app.uow() as uow:
        record = service.record_consent(
            uow,
            app.policy,
            vault=app.vault,
            actor=key.key_id,
            customer_id=_live(uow, customer_id),
            purpose=purpose,
            status=change.status,
            method=service.ConsentMethod.api,
            now=app.clock(),
            jurisdiction=change.jurisdiction,
        )
        uow.commit()
    return _changed(request, record)


@router.post("/v1/consents", response_model=ConsentChangeOut)
def post_consent(
    change: ConsentByIdentifier, request: Request, key: ApiKey = writer
) -> ConsentChangeOut:
    """Record a decision for the customer with these ids (created when new). The
    answer carries the decision's signed receipt."""
    app = trustable(request)
    idents = [
        (kind, normalise(kind, value))
        for kind, value in (("user_id", change.user_id), ("anonymous_id", change.anonymous_id))
        if value is not None
    ]
    with app.uow() as uow:
        record = service.record_for_identifiers(
            uow,
            app.vault,
            app.policy,
            idents=idents,
            purpose=change.purpose,
            status=change.status,
            method=service.ConsentMethod.api,
            now=app.clock(),
            actor=key.key_id,
            jurisdiction=change.jurisdiction,
        )
        uow.commit()
    return _changed(request, record)


@router.get("/v1/consents/receipts/{receipt_id}", response_model=SignedReceiptOut)
def get_receipt(receipt_id: str, request: Request, _: ApiKey = reader) -> SignedReceiptOut:
    """The signed receipt of one consent decision, the same one its change returned.

    A receipt id is an unguessable UUID handed to the customer with the change, so
    the URL names a decision, never a person.
    """
    app = trustable(request)
    with app.reader() as uow:
        signed = receipts.receipt_for(uow, app.policy, app.vault, receipt_id)
    return SignedReceiptOut.model_validate(signed)


@router.post("/v1/consent/choices", response_model=BannerChoicesOut)
def post_banner_choices(
    answer: BannerChoices, request: Request, key: ApiKey = collector
) -> BannerChoicesOut:
    """A visitor's answer to the consent banner, for their anonymous id: what
    `/consent.js` sends with the page's write key. Refused (403) for a user id, and
    for an anonymous id a signed-in customer holds: a public key never speaks for a
    known customer. Each purpose's record comes with its signed receipt."""
    if answer.user_id is not None:
        raise Forbidden(
            "the banner records consent for anonymous ids only; a signed-in customer's "
            "consent changes through the portal or the shop's backend",
            code="anonymous_only",
        )
    app = trustable(request)
    # Sent by the browser itself, so the body's flag and the header both count.
    gpc = answer.gpc or request.headers.get("sec-gpc") == "1"

    def once() -> list[service.ConsentRecord]:
        with app.uow() as uow:
            records = banner.record_banner_choices(
                uow,
                app.vault,
                app.policy,
                anonymous_id=answer.anonymous_id,
                choices=answer.choices,
                gpc=gpc,
                now=app.clock(),
                actor=key.key_id,
                jurisdiction=answer.jurisdiction,
            )
            uow.commit()
        return records

    records = retrying(once)
    return BannerChoicesOut(
        notice_version=app.policy.notice_version,
        changes=[_changed(request, record) for record in records],
    )
