"""The console's incidents pages: record a breach, see who it affects, notify, report.

A thin shell over `incidents`: the privacy officer (`incidents.act`) records, approves,
sends and submits; the admin (`incidents.view`) follows. Pages show ids, counts,
categories and dates, never a customer's value. The 72-hour clock is computed on the
server (the page works without script); `incidents.js` only keeps it counting.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from trustable.api.deps import trustable
from trustable.core.errors import InvalidInput, TrustableError
from trustable.incidents import runner, service
from trustable.incidents.notices import preview
from trustable.incidents.report import clock, regulator_report, submit_report
from trustable.users.roles import Permission
from trustable.users.service import list_users
from trustable.web.console import PATH, Staff, Text, acting, page, staff
from trustable.web.forms import EMPTY, FieldRefused, FormState, refused
from trustable.web.pages import redirect

router = APIRouter(include_in_schema=False)
Moment = Annotated[str, Form(max_length=40)]


def _moment(name: str, text: str, field: str) -> datetime:
    """A form's `datetime-local` value, read as UTC (the form says so)."""
    try:
        found = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FieldRefused(field, f"{name}: give a date and time, e.g. 2026-11-20T10:00") from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _portal_url(request: Request) -> str:
    s = trustable(request).settings
    return (s.public_url or str(request.base_url)).rstrip("/") + "/portal"


def _policy_categories(request: Request) -> list[str]:
    policy = trustable(request).policy
    found = set(policy.spec.tracking_plan.values()) | set(policy.spec.event_names.values())
    return sorted(found)


# Which field of the form a refusal is about, by the refusal's class.
_FIELDS: dict[type[TrustableError] | str, str] = {
    service.InvalidWindow: "start",
    service.UnknownStore: "store",
    service.UnknownDestination: "destination",
    service.InvalidExposure: "exposed",
    service.UnknownCategory: "other",
}


@router.get("/admin/incidents", response_class=HTMLResponse)
def incidents_page(request: Request) -> Response:
    """Every incident with its clock; the form to record one."""
    app = trustable(request)
    return _incidents(request, staff(app, request, Permission.incidents_view), EMPTY)


def _incidents(request: Request, who: Staff, form: FormState, status: int = 200) -> Response:
    app = trustable(request)
    now = app.clock()
    with app.reader() as uow:
        found = service.list_incidents(uow)
    return page(
        request,
        "console/incidents.html",
        who,
        incidents=[(i, clock(i, now)) for i in found],
        stores=[s.value for s in service.Store],
        exposures=[e.value for e in service.Exposed],
        destinations=sorted(app.policy.spec.destinations),
        categories=_policy_categories(request),
        label=app.policy.category_label,
        now=now,
        form=form,
        status=status,
    )


@router.post("/admin/incidents")
def record(
    request: Request,
    title: Annotated[str, Form(max_length=200)],
    window_start: Moment,
    window_end: Moment,
    store: Annotated[str, Form(max_length=32)],
    exposed: Annotated[str, Form(max_length=32)],
    categories: Annotated[list[str] | None, Form()] = None,
    other_categories: Annotated[str, Form(max_length=2000)] = "",
    discovered_at: Moment = "",
    destination: Annotated[str, Form(max_length=64)] = "",
    measures: Annotated[str, Form(max_length=5000)] = "",
    csrf: Text = "",
) -> Response:
    app = trustable(request)
    who = acting(app, request, csrf, Permission.incidents_act)
    now = app.clock()
    wanted = [*(categories or []), *other_categories.split()]
    typed = {
        "title": title,
        "discovered_at": discovered_at,
        "window_start": window_start,
        "window_end": window_end,
        "store": store,
        "destination": destination,
        "exposed": exposed,
        "categories": categories or [],
        "other_categories": other_categories,
        "measures": measures,
    }
    try:
        with app.uow() as uow:
            found = service.record_incident(
                uow,
                app.vault,
                app.policy,
                title=title,
                discovered_at=_moment("discovered", discovered_at, "discovered")
                if discovered_at.strip()
                else now,
                window_start=_moment("window start", window_start, "start"),
                window_end=_moment("window end", window_end, "end"),
                store=store,
                destination=destination or None,
                categories=wanted,
                exposed=exposed,
                measures=measures,
                actor=who.user.user_id,
                now=now,
            )
            uow.commit()
    except InvalidInput as exc:
        return _incidents(request, who, refused(exc, typed, _FIELDS, "title"), 400)
    return redirect(request, f"{PATH}/incidents/{found.incident_id}")


@router.get("/admin/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(incident_id: str, request: Request) -> Response:
    """One incident: facts, affected counts, notices, the report and its countdown."""
    app = trustable(request)
    return _incident(request, staff(app, request, Permission.incidents_view), incident_id, EMPTY)


def _incident(
    request: Request, who: Staff, incident_id: str, form: FormState, status: int = 200
) -> Response:
    app = trustable(request)
    now = app.clock()
    with app.reader() as uow:
        found = service.get_incident(uow, incident_id)
        steps = service.timeline(uow, incident_id)
        names = {u.user_id: u.username for u in list_users(uow)}  # staff, not customers
        notices = service.notice_counts(uow, incident_id)
        draft = preview(uow, app.policy, found, portal_url=_portal_url(request))
        report = regulator_report(uow, app.policy, found, now=now)
    return page(
        request,
        "console/incident.html",
        who,
        incident=found,
        steps=steps,
        names=names,
        notices=notices,
        draft=draft,
        report=report,
        due=clock(found, now),
        label=app.policy.category_label,
        now=now,
        form=form,
        status=status,
    )


@router.post("/admin/incidents/{incident_id}/recompute")
def recompute(incident_id: str, request: Request, csrf: Text = "") -> Response:
    app = trustable(request)
    who = acting(app, request, csrf, Permission.incidents_act)
    with app.uow() as uow:
        service.recompute(
            uow,
            app.vault,
            app.policy,
            service.get_incident(uow, incident_id),
            actor=who.user.user_id,
            now=app.clock(),
        )
        uow.commit()
    return redirect(request, f"{PATH}/incidents/{incident_id}")


@router.post("/admin/incidents/{incident_id}/approve")
def approve(incident_id: str, request: Request, csrf: Text = "") -> Response:
    app = trustable(request)
    who = acting(app, request, csrf, Permission.incidents_act)
    with app.uow() as uow:
        service.approve_notices(
            uow,
            app.vault,
            service.get_incident(uow, incident_id),
            actor=who.user.user_id,
            now=app.clock(),
        )
        uow.commit()
    return redirect(request, f"{PATH}/incidents/{incident_id}")


@router.post("/admin/incidents/{incident_id}/send")
def send(
    incident_id: str,
    request: Request,
    anyway: Annotated[bool, Form()] = False,
    csrf: Text = "",
) -> Response:
    app = trustable(request)
    who = acting(app, request, csrf, Permission.incidents_act)
    runner.send(
        app,
        incident_id,
        portal_url=_portal_url(request),
        actor=who.user.user_id,
        anyway=anyway,
    )
    return redirect(request, f"{PATH}/incidents/{incident_id}")


@router.post("/admin/incidents/{incident_id}/submit")
def submit(
    incident_id: str,
    request: Request,
    delay_reason: Annotated[str, Form(max_length=2000)] = "",
    csrf: Text = "",
) -> Response:
    app = trustable(request)
    who = acting(app, request, csrf, Permission.incidents_act)
    try:
        with app.uow() as uow:
            submit_report(
                uow,
                app.vault,
                service.get_incident(uow, incident_id),
                actor=who.user.user_id,
                now=app.clock(),
                delay_reason=delay_reason or None,
            )
            uow.commit()
    except service.IncidentRefused as exc:
        form = refused(exc, {"delay_reason": delay_reason}, {}, "delay")
        return _incident(request, who, incident_id, form, 400)
    return redirect(request, f"{PATH}/incidents/{incident_id}")
