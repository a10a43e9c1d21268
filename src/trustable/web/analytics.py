"""The analyst's page (`/admin/analytics`): aggregates, suppressed or noised, never a
person; the same service as `POST /v1/aggregates`, with the console user as analyst."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from trustable.analytics import runner
from trustable.analytics.budget import BudgetExhausted
from trustable.analytics.schemas import AggregateQuery, Answer, Measure, Unit
from trustable.analytics.service import analytics_spec
from trustable.api.deps import trustable
from trustable.bootstrap import Trustable
from trustable.core.errors import InvalidInput
from trustable.users.roles import Permission
from trustable.web.console import Staff, acting, page, staff
from trustable.web.forms import EMPTY, FormState, refused

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]
FIELDS = ("measure", "of", "value", "group_by", "event", "since", "until", "private", "epsilon")
# The form's control for each field of a query, where its problems are said.
_IDS = {name: f"a-{name}" for name in FIELDS} | {"group_by": "a-group"}


def _show(
    request: Request,
    app: Trustable,
    who: Staff,
    *,
    chosen: dict[str, str],
    answer: Answer | None = None,
    form: FormState = EMPTY,
    status: int = 200,
) -> HTMLResponse:
    spec = analytics_spec(app.policy)
    left = runner.remaining(app, analyst=who.user.user_id)
    purpose = app.policy.purpose(spec.purpose)
    return page(
        request,
        "console/analytics.html",
        who,
        status=status,
        spec=spec,
        purpose_name=purpose.spec.name if purpose is not None else spec.purpose,
        budget=left,
        measures=[m.value for m in Measure],
        units=[u.value for u in Unit],
        chosen=chosen,
        answer=answer,
        form=form,
    )


@router.get("/admin/analytics", response_class=HTMLResponse)
def analytics_form(request: Request) -> Response:
    app = trustable(request)
    who = staff(app, request, Permission.aggregates)
    chosen = dict.fromkeys(FIELDS, "") | {"measure": "count", "of": "customers"}
    return _show(request, app, who, chosen=chosen)


@router.post("/admin/analytics", response_class=HTMLResponse)
def analytics_query(
    request: Request,
    measure: Field = "count",
    of: Field = "customers",
    value: Field = "",
    group_by: Field = "",
    event: Field = "",
    since: Field = "",
    until: Field = "",
    private: Field = "",
    epsilon: Field = "",
    csrf: Field = "",
) -> Response:
    """Ask as the signed-in analyst: exact answers suppress groups below k, private
    ones spend epsilon from this user's budget; both are in the ledger."""
    app = trustable(request)
    who = acting(app, request, csrf, Permission.aggregates)
    chosen = {
        "measure": measure,
        "of": of,
        "value": value,
        "group_by": group_by,
        "event": event,
        "since": since,
        "until": until,
        "private": private,
        "epsilon": epsilon,
    }
    fields: dict[str, Any] = {k: v.strip() for k, v in chosen.items() if v.strip()}
    fields["private"] = bool(private)
    if not private:
        fields.pop("epsilon", None)
    try:
        query = AggregateQuery.model_validate(fields)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors()[:5]:
            loc = [str(p) for p in err.get("loc", ())]
            where = _IDS.get(loc[0], "a-measure") if loc else "a-measure"
            said = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            errors.setdefault(where, f"{loc[0] if loc else 'query'}: {said}")
        return _show(request, app, who, chosen=chosen, form=FormState(chosen, errors), status=400)
    try:
        answer = runner.ask(app, query, analyst=who.user.user_id)
    except (InvalidInput, BudgetExhausted) as exc:
        # The service names the field its message is about first ("epsilon: …").
        named = next((_IDS[f] for f in FIELDS if exc.message.startswith(f"{f}:")), None)
        form = (
            FormState(chosen, {named: exc.message})
            if named
            else refused(exc, chosen, {BudgetExhausted: "a-epsilon"}, "a-measure")
        )
        return _show(request, app, who, chosen=chosen, form=form, status=exc.status)
    return _show(request, app, who, chosen=chosen, answer=answer)
