"""Customers' requests over HTTP: file, verify, follow, export, certify, act."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from trustable.access.service import ApiKey
from trustable.api.deps import KEYED, bearer_or_basic, needs, trustable
from trustable.bootstrap import Trustable
from trustable.consent.service import lift_restriction
from trustable.core.errors import NotFound
from trustable.rights import runner
from trustable.rights.erase import certificate
from trustable.rights.export import (
    HTML_HEADERS,
    JSON_HEADERS,
    export_html,
    export_json,
    log_export,
)
from trustable.rights.schemas import (
    CodeIn,
    EmailRequestIn,
    EmailRequestOut,
    RefuseIn,
    RequestBody,
    RequestIn,
    RequestOut,
)
from trustable.rights.service import (
    TOKEN_PREFIX,
    Channel,
    Kind,
    RightsRequest,
    State,
    get_request,
    issue_token,
    list_requests,
    refuse,
    request_for_token,
)
from trustable.rights.verification import code_mail, confirm_code, request_by_email

router = APIRouter(tags=["requests"])
company = Depends(needs("requests"))
admin = Depends(needs("admin"))


def _detail(body: RequestBody) -> dict[str, Any]:
    return {"purposes": body.purposes} if body.purposes is not None else {}


def _correction(body: RequestBody) -> tuple[str, str, Any] | None:
    c = body.correction
    return None if c is None else (c.target, c.name, c.value)


@router.post("/v1/requests", response_model=RequestOut, status_code=201)
def file_request(body: RequestIn, request: Request, key: ApiKey = company) -> RequestOut:
    """A request the company files for a customer it signed in: verified by that,
    and carried out at once. The answer's token opens status and export."""
    app = trustable(request)
    done = runner.file_verified(
        app,
        customer_id=body.customer_id,
        kind=body.kind,
        channel=Channel.api,
        actor=key.key_id,
        jurisdiction=body.jurisdiction,
        detail=_detail(body),
        correction=_correction(body),
    )
    with app.uow() as uow:  # the requester's token, to follow it and fetch its answer
        token = issue_token(uow, app.vault, done, now=app.clock())
        uow.commit()
    return RequestOut.of(done, app.clock(), token)


@router.post("/v1/requests/by-email", response_model=EmailRequestOut, status_code=202)
def request_by_address(body: EmailRequestIn, request: Request) -> EmailRequestOut:
    """A request by email address alone. The answer is the same whether the address
    is on file or not; only an address on file gets a code."""
    app = trustable(request)
    with app.uow() as uow:
        opened, code = request_by_email(
            uow,
            app.vault,
            app.policy,
            email=body.email,
            kind=body.kind,
            now=app.clock(),
            jurisdiction=body.jurisdiction,
            detail=_detail(body),
            correction=_correction(body),
        )
        uow.commit()
    if code.to is not None:
        app.mailer.send(code.to, *code_mail(code))
    return EmailRequestOut(
        request_id=opened.request_id,
        message="If this address is on file, a code was sent to it. It expires in 15 minutes.",
    )


@router.post("/v1/requests/{request_id}/verify", response_model=RequestOut)
def verify(request_id: str, body: CodeIn, request: Request) -> RequestOut:
    """Confirm a request with the code from the mail; it is then carried out."""
    app = trustable(request)
    with app.uow() as uow:
        now = app.clock()
        outcome = confirm_code(uow, app.vault, request_id=request_id, code=body.code, now=now)
        token = None
        if outcome.request is not None:
            token = issue_token(uow, app.vault, outcome.request, now=now)
        uow.commit()  # a wrong code counts, so it commits too
    verified = outcome.raise_if_rejected()
    done = runner.process(app, verified.request_id, actor="email")
    return RequestOut.of(done, app.clock(), token)


def _opened(app: Trustable, request: Request, request_id: str) -> tuple[RightsRequest, str]:
    """The request, for its own token or an admin key; and who is asking."""
    secret = bearer_or_basic(request)
    if secret is not None and secret.startswith(TOKEN_PREFIX):
        with app.reader() as uow:
            found = request_for_token(uow, app.vault, secret, now=app.clock())
        if found.request_id != request_id:
            raise NotFound("no such request, or its token expired", code="unknown_request")
        return found, "requester"
    key = needs("admin", "requests")(request)
    with app.reader() as uow:
        return get_request(uow, request_id), key.key_id


@router.get("/v1/requests/{request_id}", response_model=RequestOut, dependencies=KEYED)
def show(request_id: str, request: Request) -> RequestOut:
    app = trustable(request)
    found, _ = _opened(app, request, request_id)
    return RequestOut.of(found, app.clock())


@router.get("/v1/requests/{request_id}/export", dependencies=KEYED)
def export(
    request_id: str,
    request: Request,
    format: Annotated[Literal["json", "html"], Query()] = "json",
) -> Response:
    """Everything held about the customer, streamed; logged before the first byte."""
    app = trustable(request)
    found, actor = _opened(app, request, request_id)
    if found.kind not in (Kind.access, Kind.export) or found.state is not State.done:
        raise NotFound("this request has no export", code="no_export")
    if found.customer_id is None:
        raise NotFound("this request has no export", code="no_export")
    with app.uow() as uow:
        now = app.clock()
        logged = log_export(uow, app.vault, found, form=format, actor=actor, now=now)
        uow.commit()
    if format == "html":
        pages = export_html(app.reader, app.vault, app.policy, found, logged, now)
        return StreamingResponse(pages, media_type="text/html; charset=utf-8", headers=HTML_HEADERS)
    body = export_json(app.reader, app.vault, app.policy, found, logged, now)
    return StreamingResponse(
        body,
        media_type="application/json",
        headers={
            **JSON_HEADERS,
            "Content-Disposition": f'attachment; filename="{request_id}.json"',
        },
    )


@router.get("/v1/requests/{request_id}/certificate", dependencies=KEYED)
def erasure_certificate(request_id: str, request: Request) -> dict[str, Any]:
    """The signed erasure certificate, as it stands now (destinations' answers too)."""
    app = trustable(request)
    found, _ = _opened(app, request, request_id)
    if found.kind is not Kind.erase or found.state not in (State.processing, State.done):
        raise NotFound("this request has no erasure certificate", code="no_certificate")
    with app.reader() as uow:
        return certificate(uow, app.vault, found, now=app.clock())


@router.get("/v1/requests", response_model=list[RequestOut])
def queue(
    request: Request,
    state: State | None = None,
    kind: Kind | None = None,
    overdue: bool = False,
    key: ApiKey = admin,
) -> list[RequestOut]:
    """The queue, oldest deadline first."""
    app = trustable(request)
    with app.reader() as uow:
        now = app.clock()
        found = list_requests(uow, now=now, state=state, kind=kind, overdue=overdue)
    return [RequestOut.of(r, now) for r in found]


@router.post("/v1/requests/{request_id}/refuse", response_model=RequestOut)
def refuse_request(
    request_id: str, body: RefuseIn, request: Request, key: ApiKey = admin
) -> RequestOut:
    app = trustable(request)
    with app.uow() as uow:
        now = app.clock()
        refused = refuse(
            uow, app.vault, get_request(uow, request_id), body.reason, actor=key.key_id, now=now
        )
        uow.commit()
    return RequestOut.of(refused, now)


@router.post("/v1/requests/{request_id}/process", response_model=RequestOut)
def process(request_id: str, request: Request, key: ApiKey = admin) -> RequestOut:
    """Carry out a verified request again (after an interruption)."""
    app = trustable(request)
    return RequestOut.of(runner.process(app, request_id, actor=key.key_id), app.clock())


@router.delete("/v1/customers/{customer_id}/restriction", status_code=204)
def lift(customer_id: str, request: Request, key: ApiKey = admin) -> Response:
    """End a restriction (Art. 18(3): after telling the customer)."""
    app = trustable(request)
    with app.uow() as uow:
        if not lift_restriction(uow, app.vault, customer_id, actor=key.key_id, now=app.clock()):
            raise NotFound("this customer's data is not restricted", code="not_restricted")
        uow.commit()
    return Response(status_code=204)
