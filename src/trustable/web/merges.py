"""The console's joined histories: every join of two customers' histories, and undoing
one that should not have happened.

A thin shell over `events.merge`: the privacy team (`requests.view`) sees the joins,
by customer id, who asked for them and when; the privacy officer (`requests.act`)
undoes one, with a ledger entry on both customers. No value is shown.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustable.api.deps import trustable
from trustable.events.merge import split_histories
from trustable.identity.merges import list_merges
from trustable.users.roles import Permission
from trustable.web.console import PATH, Text, acting, page, staff
from trustable.web.pages import redirect

router = APIRouter(include_in_schema=False)


@router.get("/admin/merges", response_class=HTMLResponse)
def merges(
    request: Request, customer: Annotated[str | None, Query(max_length=32)] = None
) -> Response:
    """The newest joins first, or one customer's."""
    app = trustable(request)
    who = staff(app, request, Permission.requests_view)
    wanted = customer.strip() if customer and customer.strip() else None
    with app.reader() as uow:
        found = list_merges(uow, customer_id=wanted, limit=200)
    return page(request, "console/merges.html", who, merges=found, customer=wanted)


@router.post("/admin/merges/{merge_id}/undo")
def undo(merge_id: str, request: Request, csrf: Text = "") -> Response:
    """Split the histories again: the absorbed one becomes a customer of its own."""
    app = trustable(request)
    who = acting(app, request, csrf, Permission.requests_act)
    with app.uow() as uow:
        split_histories(uow, app.vault, merge_id, actor=who.user.user_id, now=app.clock())
        uow.commit()
    return redirect(request, f"{PATH}/merges")
