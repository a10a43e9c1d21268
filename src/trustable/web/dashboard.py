"""The trust dashboard (`/admin/dashboard`): figures counted by the database, charts
drawn by the server as SVG (`trustable.dashboard`), no customer in sight."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from trustable.api.deps import trustable
from trustable.dashboard.panels import dashboard_charts
from trustable.dashboard.service import trust_dashboard
from trustable.users.roles import Permission
from trustable.web.console import page, staff

router = APIRouter(include_in_schema=False)


@router.get("/admin/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, days: Annotated[int, Query(ge=1, le=366)] = 30) -> Response:
    app = trustable(request)
    who = staff(app, request, Permission.dashboard)
    now = app.clock()
    end = now + timedelta(seconds=1)
    with app.reader() as uow:
        board = trust_dashboard(
            uow,
            app.policy,
            app.vault.public_key(),
            start=end - timedelta(days=days),
            end=end,
            now=now,
        )
    # The charts escape every text they draw (dashboard.charts.esc): safe to embed.
    charts = {name: Markup(svg) for name, svg in dashboard_charts(board, app.policy).items()}
    return page(
        request,
        "console/dashboard.html",
        who,
        board=board,
        charts=charts,
        days=days,
        overdue=sum(r.overdue for r in board.requests),
        open_requests=sum(r.open for r in board.requests),
    )
