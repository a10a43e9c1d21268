"""The privacy team's console (`/admin`): sign-in, requests, policy, customer reads.

A thin shell: each page checks the signed-in user's role (`users.roles`) before it
reads anything, and acts through the same domain services as the API. A console
session ends at sign-out, after an idle hour or twelve hours, and the moment its
user's password changes or the account is disabled. The trust dashboard lives in
`web.dashboard`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustable.access.reads import log_read, read_profile
from trustable.api.deps import trustable
from trustable.bootstrap import Trustable
from trustable.consent.service import lift_restriction
from trustable.core.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from trustable.identity.service import customer_exists
from trustable.policy.audit import audit
from trustable.rights import runner
from trustable.rights.service import Kind, State, get_request, list_requests, refuse
from trustable.segments.reads import summaries
from trustable.sessions.service import SessionKind, find_session, open_session
from trustable.users.roles import Permission
from trustable.users.service import ConsoleUser, SignInRefused, authenticate_user, get_user
from trustable.web.forms import EMPTY, FieldRefused, FormState, refused
from trustable.web.pages import check_form, entered, redirect, render, sign_out

router = APIRouter(include_in_schema=False)
COOKIE = "tk_console"
PATH = "/admin"
Text = Annotated[str, Form(max_length=2000)]


class ConsoleSignedOut(NotAuthenticated):
    code = "signed_out"


@dataclass(frozen=True)
class Staff:
    """The signed-in console user, their session's cookie and CSRF token."""

    user: ConsoleUser
    token: str
    csrf: str

    def require(self, permission: Permission) -> None:
        if not self.user.can(permission):
            raise Forbidden(f"your role ({self.user.role.value}) may not do this")


def signed_in(app: Trustable, request: Request) -> Staff | None:
    token = request.cookies.get(COOKIE)
    with app.uow() as uow:
        now = app.clock()
        found = find_session(uow, app.vault, token, kind=SessionKind.console, now=now)
        user = get_user(uow, found.user_id) if found and found.user_id else None
        uow.commit()
    if found is None or user is None or token is None:
        return None
    if user.disabled or found.created_at < user.password_changed_at:
        return None  # the account changed after this session began
    return Staff(user, token, found.csrf)


def staff(app: Trustable, request: Request, permission: Permission | None = None) -> Staff:
    found = signed_in(app, request)
    if found is None:
        raise ConsoleSignedOut("you are signed out of the console: sign in again")
    if permission is not None:
        found.require(permission)
    return found


def acting(app: Trustable, request: Request, csrf: str, permission: Permission) -> Staff:
    found = staff(app, request, permission)
    check_form(request, found.token, {"csrf": csrf})
    return found


def page(request: Request, template: str, who: Staff, **context: Any) -> HTMLResponse:
    """A console page, with the menu the user's role allows (and the policy offers: no
    Analytics entry without an `analytics` section)."""
    analytics = trustable(request).policy.spec.analytics is not None
    return render(request, template, who=who, Permission=Permission, analytics=analytics, **context)


def client_address(request: Request) -> str:
    """Where a sign-in comes from, for its throttle: the connection's peer.
    `X-Forwarded-For` is anyone's to write, and no setting names a proxy to trust."""
    return request.client.host if request.client is not None else "unknown"


@router.get("/admin", response_class=HTMLResponse)
def home(request: Request) -> Response:
    app = trustable(request)
    found = signed_in(app, request)
    if found is None:
        return render(request, "console/signin.html", problem=None)
    if found.user.can(Permission.dashboard):
        return redirect(request, f"{PATH}/dashboard")
    if found.user.can(Permission.requests_view):
        return redirect(request, f"{PATH}/requests")
    return page(request, "console/empty.html", found)


@router.post("/admin/signin")
def sign_in(
    request: Request,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    app = trustable(request)
    with app.uow() as uow:
        now = app.clock()
        try:
            user = authenticate_user(
                uow, app.vault, username, password, address=client_address(request), now=now
            )
        except SignInRefused as refused:
            uow.commit()  # failures count: a refusal is a write too
            return render(
                request, "console/signin.html", status=refused.status, problem=refused.message
            )
        token, _ = open_session(
            uow, app.vault, kind=SessionKind.console, user_id=user.user_id, now=now
        )
        uow.commit()
    return entered(request, COOKIE, token, PATH)


@router.post("/admin/logout")
def logout(request: Request, csrf: Text = "") -> Response:
    return sign_out(
        request,
        csrf,
        COOKIE,
        PATH,
        render(request, "console/signin.html", problem=None, signed_out=True),
    )


# -- requests queue ----------------------------------------------------------------


@router.get("/admin/requests", response_class=HTMLResponse)
def queue(
    request: Request,
    state: Annotated[str, Query(max_length=16)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    overdue: Annotated[bool, Query()] = False,
) -> Response:
    """Every request, oldest deadline first, filtered; overdue ones flagged."""
    app = trustable(request)
    who = staff(app, request, Permission.requests_view)
    return _queue(request, who, state=state, kind=kind, overdue=overdue)


def _queue(
    request: Request,
    who: Staff,
    *,
    state: str = "",
    kind: str = "",
    overdue: bool = False,
    form: FormState = EMPTY,
    status: int = 200,
) -> HTMLResponse:
    app = trustable(request)
    try:
        wanted_state = State(state) if state else None
        wanted_kind = Kind(kind) if kind else None
    except ValueError:
        raise InvalidInput("unknown state or kind in the filter") from None
    now = app.clock()
    with app.reader() as uow:
        found = list_requests(
            uow, now=now, state=wanted_state, kind=wanted_kind, overdue=overdue, limit=200
        )
    return page(
        request,
        "console/requests.html",
        who,
        requests=found,
        now=now,
        states=[s.value for s in State],
        kinds=[k.value for k in Kind],
        chosen={"state": state, "kind": kind, "overdue": overdue},
        form=form,
        status=status,
    )


@router.post("/admin/requests/{request_id}/refuse")
def refuse_request(
    request_id: str,
    request: Request,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Text = "",
) -> Response:
    app = trustable(request)
    who = acting(app, request, csrf, Permission.requests_act)
    field = f"reason-{request_id}"
    try:
        if not reason.strip():
            raise FieldRefused(field, "say why: the customer reads the reason")
        with app.uow() as uow:
            refuse(
                uow,
                app.vault,
                get_request(uow, request_id),
                reason,
                actor=who.user.user_id,
                now=app.clock(),
            )
            uow.commit()
    except InvalidInput as exc:
        form = refused(exc, {field: reason}, {}, field)
        return _queue(request, who, form=form, status=400)
    return redirect(request, f"{PATH}/requests")


@router.post("/admin/requests/{request_id}/process")
def process_request(request_id: str, request: Request, csrf: Text = "") -> Response:
    app = trustable(request)
    who = acting(app, request, csrf, Permission.requests_act)
    runner.process(app, request_id, actor=who.user.user_id)
    return redirect(request, f"{PATH}/requests")


@router.post("/admin/customers/{customer_id}/lift")
def lift(customer_id: str, request: Request, csrf: Text = "") -> Response:
    """End a customer's restriction (Art. 18(3): after telling them)."""
    app = trustable(request)
    who = acting(app, request, csrf, Permission.requests_act)
    with app.uow() as uow:
        if not lift_restriction(
            uow, app.vault, customer_id, actor=who.user.user_id, now=app.clock()
        ):
            raise NotFound("this customer's data is not restricted")
        uow.commit()
    return redirect(request, f"{PATH}/requests")


# -- policy ------------------------------------------------------------------------


@router.get("/admin/policy", response_class=HTMLResponse)
def policy(request: Request) -> Response:
    """Purposes, categories, retention, destinations, and the audit's verdict."""
    app = trustable(request)
    who = staff(app, request, Permission.policy_view)
    with app.reader() as uow:
        breaks = audit(uow, app.policy)
        segments = summaries(uow, app.policy)
    return page(
        request, "console/policy.html", who, policy=app.policy, breaks=breaks, segments=segments
    )


# -- support: one customer, for a stated purpose -----------------------------------


@router.get("/admin/customer", response_class=HTMLResponse)
def customer_form(request: Request) -> Response:
    app = trustable(request)
    who = staff(app, request, Permission.customer_read)
    return page(request, "console/customer.html", who, policy=app.policy, profile=None, form=EMPTY)


@router.post("/admin/customer", response_class=HTMLResponse)
def customer_read(
    request: Request,
    customer_id: Annotated[str, Form(max_length=32)],
    purpose: Annotated[str, Form(max_length=200)],
    csrf: Text = "",
) -> Response:
    """Read one customer's data for the purpose the support agent states: only what
    that purpose may use now, and the read is in the ledger under their user id."""
    app = trustable(request)
    who = acting(app, request, csrf, Permission.customer_read)
    typed = {"customer_id": customer_id, "purpose": purpose}

    def again(field: str, message: str, status: int) -> HTMLResponse:
        form = FormState(typed, {field: message})
        return page(
            request, "console/customer.html", who, policy=app.policy, profile=None, form=form,
            status=status,
        )  # fmt: skip

    found = app.policy.purpose(purpose)
    if found is None:
        return again("purpose", "choose one of the policy's purposes", 400)
    with app.reader() as uow:
        live = customer_exists(uow, customer_id.strip())
        if live is None:
            return again("customer-id", "no customer has this id (or they were erased)", 404)
        profile = read_profile(uow, app.vault, app.policy, customer_id=live, purpose=found)
    with app.uow() as uow:
        log_read(uow, app.vault, profile, actor=who.user.user_id, now=app.clock())
        uow.commit()
    return page(
        request, "console/customer.html", who, policy=app.policy, profile=profile, form=EMPTY
    )
