"""Carrying a verified request through to `done`, owning its transactions.

Like the delivery worker, this is an entry point of its own: the API and the CLI
call it once a request is verified. Each kind's work and its ledger entries commit
together; erasure takes two steps across the two stores (see `rights.erase`), and
a request left `processing` by a crash is finished by calling `process` again
(`trustable requests resume` does it for all of them).
"""

from __future__ import annotations

from typing import Any

from trustable.bootstrap import Trustable
from trustable.consent.service import ConsentMethod, ConsentStatus, record_consent, restrict
from trustable.core.errors import InvalidInput, NotFound
from trustable.identity.service import customer_exists
from trustable.ledger import service as ledger
from trustable.rights.erase import count_late_mail, erase_customer
from trustable.rights.rectify import apply_correction, correction_detail
from trustable.rights.service import (
    Channel,
    Kind,
    RequestRefused,
    RightsRequest,
    State,
    get_request,
    list_requests,
    move,
    open_request,
)
from trustable.segments.service import judge_traits, leave_all


def file_verified(
    app: Trustable,
    *,
    customer_id: str,
    kind: Kind,
    channel: Channel,
    actor: str,
    jurisdiction: str | None = None,
    detail: dict[str, Any] | None = None,
    correction: tuple[str, str, Any] | None = None,
) -> RightsRequest:
    """A request from a customer whom the caller already verified (the company's
    sign-in, the portal's session, the command line), carried out at once."""
    with app.uow() as uow:
        now = app.clock()
        live = customer_exists(uow, customer_id)
        if live is None:
            raise NotFound("no such customer", code="unknown_customer")
        sealed = None
        if kind is Kind.rectify:
            if correction is None:
                raise InvalidInput("a rectify request says what to correct", code="invalid_request")
            detail, sealed = correction_detail(app.vault, app.policy, live, correction)
        opened = open_request(
            uow,
            app.vault,
            app.policy,
            kind=kind,
            customer_id=live,
            channel=channel,
            now=now,
            actor=actor,
            jurisdiction=jurisdiction,
            detail=detail or {},
            sealed=sealed,
        )
        move(uow, app.vault, opened, State.verified, actor=actor, now=now)
        uow.commit()
    return process(app, opened.request_id, actor=actor)


def process(app: Trustable, request_id: str, *, actor: str) -> RightsRequest:
    """Complete a verified (or interrupted) request; a refusal is recorded, not raised."""
    with app.uow() as uow:
        request = get_request(uow, request_id)
    if request.state not in (State.verified, State.processing):
        return request
    if request.customer_id is None:  # cannot happen once verified; fail closed
        return _refuse(app, request, "this request names no customer", actor)
    if request.kind is Kind.erase:
        return _erase(app, request, actor)
    try:
        with app.uow() as uow:
            now = app.clock()
            request = get_request(uow, request_id)
            customer_id = request.customer_id
            assert customer_id is not None
            if request.kind is Kind.restrict:
                restrict(uow, customer_id, request_id=request.request_id, now=now)
                left = leave_all(uow, app.policy, customer_id, actor=actor)
                if left:  # used for nothing: in no segment either
                    ledger.submit(uow, app.vault, left, now=now)
            elif request.kind is Kind.object:
                for purpose in request.detail["purposes"]:
                    record_consent(
                        uow,
                        app.policy,
                        vault=app.vault,
                        actor=actor,
                        customer_id=customer_id,
                        purpose=purpose,
                        status=ConsentStatus.objected,
                        method=ConsentMethod.request,
                        now=now,
                        jurisdiction=request.jurisdiction,
                    )
            elif request.kind is Kind.rectify:
                apply_correction(uow, app.vault, request, actor=actor, now=now)
                judged = judge_traits(uow, app.vault, app.policy, customer_id, now=now, actor=actor)
                if judged:  # a corrected trait may put them in a segment, or out of one
                    ledger.submit(uow, app.vault, judged, now=now)
            # access and export: the answer is the export itself, fetched with the
            # request's token; each fetch is logged when it happens.
            done = move(uow, app.vault, request, State.done, actor=actor, now=now)
            uow.commit()
            return done
    except RequestRefused as refused:
        return _refuse(app, request, str(refused), actor)


def _erase(app: Trustable, request: RightsRequest, actor: str) -> RightsRequest:
    app.mailer.flush()  # queued mail on disk before step one looks for it, lock-free
    with app.uow() as uow:
        erased = erase_customer(
            uow,
            app.vault,
            app.policy,
            get_request(uow, request.request_id),
            actor=actor,
            now=app.clock(),
            mailer=app.mailer,
        )
        uow.commit()
    for customer_id in erased.customers:
        app.vault.destroy_key(customer_id)
    if app.personalization is not None:  # out of the recommender now, not at its next sync
        app.personalization.forget(erased.customers)
    late = None
    if erased.addresses:  # mail queued while step one ran: on disk now, and it goes too
        app.mailer.flush()
        late = app.mailer.remove_mail_to(erased.addresses)
    with app.uow() as uow:
        current = get_request(uow, request.request_id)
        done = move(
            uow,
            app.vault,
            current,
            State.done,
            actor=actor,
            now=app.clock(),
            detail=count_late_mail(current, late) if late else None,
            customer_known=False,  # their pseudonym died with their key
        )
        uow.commit()
    return done


def _refuse(app: Trustable, request: RightsRequest, reason: str, actor: str) -> RightsRequest:
    with app.uow() as uow:
        refused = move(
            uow,
            app.vault,
            get_request(uow, request.request_id),
            State.refused,
            actor=actor,
            now=app.clock(),
            refusal=reason,
        )
        uow.commit()
    return refused


def resume(app: Trustable, *, actor: str) -> list[RightsRequest]:
    """Finish every request left verified or processing (after a crash, say)."""
    with app.reader() as uow:
        now = app.clock()
        waiting = list_requests(uow, now=now, state=State.verified) + list_requests(
            uow, now=now, state=State.processing
        )
    return [process(app, r.request_id, actor=actor) for r in waiting]
