"""The customer's privacy portal (`/portal`): a thin shell over the domain services.

Every page and form works for the customer of the session and no one else: no
route takes a customer id, so changing an id in a URL or a form reaches nothing
of anyone else's (an entry, a request or an identifier that is not theirs answers
"not found", the same as one that does not exist).
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from trustable.access.service import key_names
from trustable.api.deps import trustable
from trustable.bootstrap import Trustable
from trustable.consent import receipts
from trustable.consent.gpc import honour_gpc
from trustable.consent.service import (
    ConsentMethod,
    ConsentRecord,
    ConsentStatus,
    current_consents,
    record_consent,
)
from trustable.core.errors import InvalidInput, NotAuthenticated, NotFound
from trustable.identity.contacts import add_claim
from trustable.identity.service import customer_exists, linked_identifiers, unlink_identifier
from trustable.ledger import service as ledger
from trustable.ledger.public import log_key
from trustable.ledger.witnesses import configured as configured_witnesses
from trustable.portal.service import choices, describe, holdings, redeem_link
from trustable.rights import runner
from trustable.rights.erase import certificate, read_certificate
from trustable.rights.export import export_json, log_export
from trustable.rights.service import Channel, Kind, State, get_request, list_requests
from trustable.rights.verification import (
    PROOF_PREFIX,
    CodeRejected,
    code_mail,
    confirm_address,
    confirm_code,
    proof_mail,
    prove_address,
    request_by_email,
)
from trustable.segments.reads import groups
from trustable.sessions.service import SessionKind, find_session, open_session
from trustable.storage.uow import UnitOfWork
from trustable.web.pages import (
    check_form,
    clear_cookie,
    entered,
    redirect,
    render,
    security_headers,
    sign_out,
)

router = APIRouter(include_in_schema=False)
COOKIE = "tk_portal"
PATH = "/portal"
TIMELINE_PAGE = 25
Text = Annotated[str, Form(max_length=2000)]


class SignedOut(NotAuthenticated):
    code = "signed_out"


def _session_in(uow: UnitOfWork, app: Trustable, request: Request) -> tuple[str, str, str] | None:
    """(cookie token, the session's CSRF token, live customer id), or None, read in
    the caller's unit of work (a writer: a session is marked seen, or removed)."""
    token = request.cookies.get(COOKIE)
    found = find_session(uow, app.vault, token, kind=SessionKind.portal, now=app.clock())
    live = customer_exists(uow, found.customer_id) if found and found.customer_id else None
    if found is None or live is None or token is None:
        return None
    return token, found.csrf, live


def _signed_in(app: Trustable, request: Request) -> tuple[str, str, str] | None:
    with app.uow() as uow:
        found = _session_in(uow, app, request)
        uow.commit()
    return found


def _signed_out() -> SignedOut:
    return SignedOut("you are signed out: open a new sign-in link, or sign in by email")


def _require(app: Trustable, request: Request) -> tuple[str, str, str]:
    found = _signed_in(app, request)
    if found is None:
        raise _signed_out()
    return found


def _acting(app: Trustable, request: Request, form: dict[str, Any]) -> str:
    """The customer a form acts for, once its session and CSRF token are checked."""
    token, _, customer_id = _require(app, request)
    check_form(request, token, form)
    return customer_id


def _gpc(request: Request) -> bool:
    return request.headers.get("sec-gpc", "").strip() == "1"


@router.get("/portal", response_class=HTMLResponse)
def home(
    request: Request,
    before: Annotated[int | None, Query(ge=0)] = None,
    receipt: Annotated[str | None, Query(max_length=64)] = None,
    proof: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Signed in: everything held, the choices, every use; otherwise, how to sign in."""
    app = trustable(request)
    found = _signed_in(app, request)
    if found is None:
        return render(request, "portal/signin.html", step="email")
    _, csrf, customer_id = found
    now = app.clock()
    honoured = False
    if _gpc(request):  # the browser's Global Privacy Control, honoured here too
        with app.uow() as uow:
            written = honour_gpc(uow, app.vault, app.policy, [customer_id], now=now, actor="portal")
            uow.commit()
        honoured = written > 0
    with app.reader() as uow:
        consents = current_consents(uow, app.policy, customer_id)
        held = holdings(uow, app.vault, app.policy, customer_id, consents)
        segments = groups(uow, app.policy, customer_id)
        entries = ledger.latest_customer_entries(
            uow, customer_id, before=before, limit=TIMELINE_PAGE + 1
        )
        # Newest of all, on the first page: what is still being logged.
        pending: list[ledger.StoredEntry | ledger.PendingEntry] = (
            [*reversed(ledger.customer_pending(uow, customer_id))] if before is None else []
        )
        names = key_names(uow, _key_actors([*pending, *entries]))
        linked = linked_identifiers(uow, app.vault, customer_id)
        requests = list_requests(uow, now=now, customer_id=customer_id, sign_ins=False, limit=50)
        changed = _own_record(uow, customer_id, receipt) if receipt else None
    uses = [describe(e, app.policy, names) for e in [*pending, *entries[:TIMELINE_PAGE]]]
    switches = choices(app.policy, consents)
    older = entries[TIMELINE_PAGE - 1].index if len(entries) > TIMELINE_PAGE else None
    return render(
        request,
        "portal/home.html",
        csrf=csrf,
        held=held,
        groups=segments,
        choices=switches,
        uses=uses,
        older=older,
        linked=linked,
        requests=requests,
        now=now,
        gpc=_gpc(request),
        gpc_applied=honoured,
        receipt=_shown(app, changed),
        organization=app.policy.spec.organization,
        correctable=held.traits,
        objectable=[c for c in switches if not c.needs_consent],
        proof=proof if proof and proof.startswith(PROOF_PREFIX) else None,
        log_key=log_key(app.vault, app.settings.checkpoint_origin).vkey(),
        witness_keys=[w.key.vkey() for w in configured_witnesses(app)],
    )


def _key_actors(entries: list[ledger.StoredEntry | ledger.PendingEntry]) -> list[str]:
    """The API keys among the entries' actors: the company's services, by key id."""
    actors = {str(e.content().get("actor", "")) for e in entries}
    return [a for a in actors if a.startswith("key_")]


def _own_record(uow: UnitOfWork, customer_id: str, receipt_id: str) -> ConsentRecord | None:
    """One of the customer's own consent records, by its receipt id, or None."""
    try:
        record = receipts.find_record(uow, receipts.parse_receipt_id(receipt_id), customer_id)
    except InvalidInput:
        return None
    return record if record is not None and record.customer_id == customer_id else None


def _shown(app: Trustable, record: ConsentRecord | None) -> dict[str, Any] | None:
    """What the page says of a change: which purpose, what was recorded, when."""
    if record is None:
        return None
    found = app.policy.purpose(record.purpose)
    return {
        "id": record.receipt_id,
        "purpose": found.spec.name if found else record.purpose,
        "status": "on" if record.status is ConsentStatus.granted else "off",
        "at": record.recorded_at,
    }


# -- signing in and out ------------------------------------------------------------


@router.get("/portal/enter")
def enter(request: Request, token: Annotated[str, Query(max_length=128)] = "") -> Response:
    """A sign-in link: spent at once, then the portal without the token in the URL."""
    app = trustable(request)
    with app.uow() as uow:
        now = app.clock()
        customer_id = redeem_link(uow, app.vault, token, now=now)
        cookie, _ = open_session(
            uow, app.vault, kind=SessionKind.portal, customer_id=customer_id, now=now
        )
        uow.commit()
    return entered(request, COOKIE, cookie, PATH)


@router.post("/portal/signin")
def sign_in_by_email(request: Request, email: Annotated[str, Form(max_length=254)]) -> Response:
    """Step one of signing in by email: a code to the address, if it is on file (the
    page says the same either way)."""
    app = trustable(request)
    with app.uow() as uow:
        opened, code = request_by_email(
            uow,
            app.vault,
            app.policy,
            email=email,
            kind=Kind.access,
            now=app.clock(),
            channel=Channel.sign_in,
        )
        uow.commit()
    if code.to is not None:
        app.mailer.send(code.to, *code_mail(code))
    return render(request, "portal/signin.html", step="code", request_id=opened.request_id)


@router.post("/portal/signin/code")
def sign_in_with_code(
    request: Request,
    request_id: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    """Step two: the mailed code proves the address; the access request it answers
    is done by showing the portal."""
    app = trustable(request)
    with app.uow() as uow:
        outcome = confirm_code(uow, app.vault, request_id=request_id, code=code, now=app.clock())
        uow.commit()  # a wrong code counts, so it commits too
    verified = outcome.raise_if_rejected()
    done = runner.process(app, verified.request_id, actor="email")
    if done.customer_id is None:
        raise SignedOut("this code signs no one in")
    with app.uow() as uow:
        cookie, _ = open_session(
            uow, app.vault, kind=SessionKind.portal, customer_id=done.customer_id, now=app.clock()
        )
        uow.commit()
    return entered(request, COOKIE, cookie, PATH)


@router.post("/portal/logout")
def logout(request: Request, csrf: Text = "") -> Response:
    return sign_out(
        request, csrf, COOKIE, PATH, render(request, "portal/signin.html", step="signed_out")
    )


# -- choices -----------------------------------------------------------------------


@router.post("/portal/choices")
def choose(
    request: Request,
    purpose: Annotated[str, Form(max_length=200)],
    status: Annotated[str, Form(max_length=16)],
    csrf: Text = "",
) -> Response:
    """One switch flipped: recorded at once, then shown with its signed receipt."""
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    wanted = {"granted": ConsentStatus.granted, "withdrawn": ConsentStatus.withdrawn}.get(status)
    if wanted is None:
        raise InvalidInput("a choice is granted or withdrawn")
    found = app.policy.purpose(purpose)
    if found is None or not found.needs_consent:
        raise InvalidInput("this purpose has no switch: it needs no consent")
    with app.uow() as uow:
        record = record_consent(
            uow,
            app.policy,
            vault=app.vault,
            actor="portal",
            customer_id=customer_id,
            purpose=purpose,
            status=wanted,
            method=ConsentMethod.portal,
            now=app.clock(),
        )
        uow.commit()
    return redirect(request, f"{PATH}?receipt={record.receipt_id}#choices")


@router.get("/portal/receipts/{receipt_id}")
def receipt_file(receipt_id: str, request: Request) -> Response:
    """A signed consent receipt of the customer's own, to keep."""
    app = trustable(request)
    _, _, customer_id = _require(app, request)
    with app.reader() as uow:
        record = _own_record(uow, customer_id, receipt_id)
    if record is None:
        raise NotFound("no such receipt of yours")
    return JSONResponse(
        receipts.issue_receipt(record, app.policy, app.vault),
        headers={
            **security_headers(request),
            "Content-Disposition": f'attachment; filename="receipt-{receipt_id}.json"',
        },
    )


# -- how it was used ---------------------------------------------------------------


@router.get("/portal/proof")
def proof(request: Request, index: Annotated[int, Query(ge=0, le=ledger.MAX_INDEX)]) -> Response:
    """What the page needs to check one entry itself: its bytes, an inclusion proof
    and the signed head it leads to, with the key that signed it."""
    app = trustable(request)
    with app.uow() as uow:  # one transaction: the page asks this for every entry it shows
        session = _session_in(uow, app, request)
        if session is None:
            raise _signed_out()
        entry = ledger.customer_entry(uow, session[2], index)
        if entry is None:
            raise NotFound("no such entry about you")
        head = ledger.sign_head(uow, app.vault, now=app.clock())  # covers the entry
        path = ledger.inclusion_proof(uow, index, head.size)
        uow.commit()
    b64 = base64.b64encode
    body = {
        "index": index,
        "entry": b64(entry.body).decode(),
        "path": [b64(p).decode() for p in path],
        "head": {
            "size": head.size,
            "root": b64(head.root).decode(),
            "timestamp": ledger.stamp(head.signed_at),
            "signature": b64(head.signature).decode(),
            "origin": ledger.HEAD_ORIGIN,
        },
        "public_key": receipts.public_key_b64(app.vault),
    }
    return JSONResponse(body, headers=security_headers(request))


# -- take it, fix it, forget me --------------------------------------------------


def _file(app: Trustable, customer_id: str, kind: Kind, **more: Any) -> str:
    done = runner.file_verified(
        app, customer_id=customer_id, kind=kind, channel=Channel.portal, actor="portal", **more
    )
    return done.request_id


@router.post("/portal/export")
def ask_export(request: Request, csrf: Text = "") -> Response:
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    request_id = _file(app, customer_id, Kind.export)
    return redirect(request, f"{PATH}/requests/{request_id}/export")


@router.get("/portal/requests/{request_id}/export")
def download_export(request_id: str, request: Request) -> Response:
    """The export of one of the customer's own requests, as a file."""
    app = trustable(request)
    _, _, customer_id = _require(app, request)
    with app.reader() as uow:
        try:
            found = get_request(uow, request_id)
        except NotFound:
            found = None
    if (
        found is None
        or found.customer_id != customer_id
        or found.kind not in (Kind.access, Kind.export)
        or found.state is not State.done
    ):
        raise NotFound("no such export of yours")
    with app.uow() as uow:
        now = app.clock()
        logged = log_export(uow, app.vault, found, form="json", actor="portal", now=now)
        uow.commit()
    body = export_json(app.reader, app.vault, app.policy, found, logged, now)
    return StreamingResponse(
        body,
        media_type="application/json",
        headers={
            **security_headers(request),
            "Content-Disposition": f'attachment; filename="my-data-{request_id}.json"',
        },
    )


@router.post("/portal/correct")
def correct(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    value: Annotated[str, Form(max_length=1000)],
    csrf: Text = "",
) -> Response:
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    target = "identifier" if name in ("email", "phone") else "trait"
    _file(app, customer_id, Kind.rectify, correction=(target, name, value))
    return redirect(request, f"{PATH}#requests")


@router.post("/portal/restrict")
def restrict(request: Request, csrf: Text = "") -> Response:
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    _file(app, customer_id, Kind.restrict)
    return redirect(request, f"{PATH}#requests")


@router.post("/portal/object")
def object_to(
    request: Request, purpose: Annotated[str, Form(max_length=200)], csrf: Text = ""
) -> Response:
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    _file(app, customer_id, Kind.object, detail={"purposes": [purpose]})
    return redirect(request, f"{PATH}#requests")


@router.get("/portal/erase", response_class=HTMLResponse)
def erase_confirm(request: Request) -> Response:
    """The confirmation step: what erasure does, and that it cannot be undone."""
    app = trustable(request)
    _, csrf, _ = _require(app, request)
    return render(request, "portal/erase.html", csrf=csrf)


@router.post("/portal/erase")
def erase(request: Request, confirm: Text = "", csrf: Text = "") -> Response:
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    if confirm != "erase":
        raise InvalidInput("to erase everything, tick the box that says you understand")
    done = runner.file_verified(
        app, customer_id=customer_id, kind=Kind.erase, channel=Channel.portal, actor="portal"
    )
    with app.reader() as uow:
        signed = certificate(uow, app.vault, done, now=app.clock())
    # The signed JSON to keep, as a download: the session it could be fetched with
    # again ended with the customer.
    download = "data:application/json;base64," + base64.b64encode(
        json.dumps(signed, indent=2, ensure_ascii=False).encode()
    ).decode("ascii")
    response = render(
        request,
        "portal/erased.html",
        done=done,
        signed=signed,
        readable=read_certificate(signed, app.vault),
        download=download,
        organization_name=app.policy.spec.organization.name,
    )
    clear_cookie(response, request, COOKIE, PATH)  # their sessions died with them
    return response


@router.post("/portal/unlink")
def unlink(request: Request, handle: Annotated[int, Form()], csrf: Text = "") -> Response:
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    with app.uow() as uow:
        kind = unlink_identifier(uow, customer_id, handle)
        ledger.submit(
            uow,
            app.vault,
            [ledger.Record("unlink", customer_id, "portal", {"kind": kind})],
            now=app.clock(),
        )
        uow.commit()
    return redirect(request, f"{PATH}#identities")


# -- contacts: proving an address is yours ------------------------------------------


def _send_proof(app: Trustable, request: Request, customer_id: str, handle: int) -> Response:
    with app.uow() as uow:
        proof_id, address, code = prove_address(
            uow, app.vault, customer_id=customer_id, handle=handle, now=app.clock()
        )
        uow.commit()
    if address is not None:
        app.mailer.send(address, *proof_mail(code))
    return redirect(request, f"{PATH}?proof={proof_id}#identities")


@router.post("/portal/contacts/prove")
def prove(request: Request, handle: Annotated[int, Form()], csrf: Text = "") -> Response:
    """A code to one of your addresses: entering it makes the address a contact."""
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    return _send_proof(app, request, customer_id, handle)


@router.post("/portal/contacts/add")
def add_address(
    request: Request, email: Annotated[str, Form(max_length=254)], csrf: Text = ""
) -> Response:
    """An address of yours we did not know: kept as a claim, and a code sent to it."""
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    with app.uow() as uow:
        handle = add_claim(uow, app.vault, customer_id, "email", email, now=app.clock())
        uow.commit()
    return _send_proof(app, request, customer_id, handle)


@router.post("/portal/contacts/confirm")
def confirm_proof(
    request: Request,
    proof: Annotated[str, Form(max_length=40)],
    code: Annotated[str, Form(max_length=16)],
    csrf: Text = "",
) -> Response:
    """The code from the mail: the address is yours, and now a contact."""
    app = trustable(request)
    customer_id = _acting(app, request, {"csrf": csrf})
    with app.uow() as uow:
        proved = confirm_address(
            uow, app.vault, customer_id=customer_id, proof_id=proof, code=code, now=app.clock()
        )
        uow.commit()  # a wrong code counts too
    if proved is None:
        raise CodeRejected("the code is wrong or expired")
    return redirect(request, f"{PATH}#identities")
