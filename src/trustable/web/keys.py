"""The console's API keys page (`/admin/keys`): see every key, create one, revoke one.

A thin shell over `access.service`, for admins (`keys.manage`) only. A new key's
secret is shown once, on the page that answers the form that made it (never in a
URL, a redirect or a log); afterwards only its id, name, scopes and dates are shown,
exactly as `trustable keys list` shows them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from trustable.access.service import (
    READ_SCOPE,
    SCOPES,
    ApiKey,
    create_key,
    list_keys,
    parse_expiry,
    revoke_key,
    scope_meanings,
)
from trustable.api.deps import trustable
from trustable.core.errors import InvalidInput, TrustableError
from trustable.users.roles import Permission
from trustable.web.console import PATH, Staff, Text, acting, page, staff
from trustable.web.forms import EMPTY, FormState, refused
from trustable.web.pages import redirect

router = APIRouter(include_in_schema=False)


def _keys_page(
    request: Request,
    who: Staff,
    *,
    created: tuple[ApiKey, str] | None = None,
    status: int = 200,
    form: FormState = EMPTY,
) -> HTMLResponse:
    app = trustable(request)
    with app.reader() as uow:
        found = list_keys(uow)
    # The form's choices: the fixed scopes, then one read scope per declared purpose.
    reads = [(f"read:{key}", p.spec.name) for key, p in app.policy.purposes.items()]
    context: dict[str, Any] = {
        "keys": found,
        "now": app.clock(),
        "fixed": SCOPES,
        "reads": reads,
        "read_meaning": scope_meanings()[READ_SCOPE],
        "created": created,
        "form": form,
    }
    response = page(request, "console/keys.html", who, **context)
    response.status_code = status
    return response


# Which field a refused key is about, by the refusal's code.
_FIELDS: dict[type[TrustableError] | str, str] = {
    "invalid_name": "key-name",
    "invalid_scope": "key-scopes",
    "invalid_expiry": "key-expires",
}


@router.get("/admin/keys", response_class=HTMLResponse)
def keys_page(request: Request) -> Response:
    """Every API key, live or not, with the form to make one."""
    app = trustable(request)
    who = staff(app, request, Permission.keys_manage)
    return _keys_page(request, who)


@router.post("/admin/keys", response_class=HTMLResponse)
def create(
    request: Request,
    name: Annotated[str, Form(max_length=120)],
    scopes: Annotated[list[str] | None, Form()] = None,
    expires: Annotated[str, Form(max_length=40)] = "",
    csrf: Text = "",
) -> Response:
    """Make a key and show its secret this once."""
    app = trustable(request)
    who = acting(app, request, csrf, Permission.keys_manage)
    now = app.clock()
    try:
        expires_at = parse_expiry(expires, now=now)
        with app.uow() as uow:
            made = create_key(
                uow, app.policy, name=name, scopes=scopes or [], now=now, expires_at=expires_at
            )
            uow.commit()
    except InvalidInput as exc:
        typed = {"name": name, "scopes": scopes or [], "expires": expires}
        return _keys_page(request, who, status=400, form=refused(exc, typed, _FIELDS, "key-name"))
    return _keys_page(request, who, created=made, status=201)


@router.post("/admin/keys/{key_id}/revoke")
def revoke(key_id: str, request: Request, csrf: Text = "") -> Response:
    """Revoke a key: every process refuses it from the next request on."""
    app = trustable(request)
    acting(app, request, csrf, Permission.keys_manage)
    with app.uow() as uow:
        revoke_key(uow, key_id, now=app.clock())
        uow.commit()
    return redirect(request, f"{PATH}/keys")
