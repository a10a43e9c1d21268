"""Server-rendered pages: one Jinja2 environment, security headers, cookies, CSRF.

Every page is rendered with autoescaping on (a trait holding `<script>` shows as
text) and answered with a Content-Security-Policy that allows no inline script and
nothing from other origins, so the pages work offline and an injected tag would do
nothing anyway. Forms carry a CSRF token derived from their session; a POST whose
token or Origin is wrong is refused before anything happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from trustable.api.deps import trustable
from trustable.core.errors import Forbidden, TrustableError
from trustable.sessions.service import close_session, csrf_matches

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["value"] = shown_value
    return env


def when(moment: datetime | str | None) -> str:
    """`20 Nov 2026, 10:00 UTC`: a date a customer reads at a glance."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return moment
        return when(parsed)
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def shown_value(value: Any) -> str:
    """A stored value in words: `a, b` for lists, `key: value` pairs for objects."""
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {shown_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(shown_value(v) for v in value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def security_headers(request: Request) -> dict[str, str]:
    ancestors = trustable(request).settings.frame_ancestors
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; "
            f"frame-ancestors {ancestors}"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers=security_headers(request))


def redirect(request: Request, to: str) -> RedirectResponse:
    """See other (303): after a POST, the browser GETs the page it lands on."""
    return RedirectResponse(to, status_code=303, headers=security_headers(request))


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, token: str, path: str) -> None:
    response.set_cookie(
        name,
        token,
        path=path,
        httponly=True,
        secure=is_tls(request),
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, name: str, path: str) -> None:
    response.delete_cookie(name, path=path, httponly=True, secure=is_tls(request), samesite="lax")


class FormRefused(Forbidden):
    code = "form_refused"


def check_form(request: Request, token: str | None, form: Mapping[str, Any]) -> None:
    """A form may act only with its session's CSRF token, sent from this origin."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin is not None and origin != "null" and origin != own:
        raise FormRefused("this form was sent from another site")
    given = form.get("csrf")
    if token is None or not csrf_matches(
        trustable(request).vault, token, given if isinstance(given, str) else None
    ):
        raise FormRefused("this form has expired: reload the page and try again")


def error_page(request: Request, error: TrustableError | None, status: int) -> HTMLResponse:
    """Errors on pages are pages: what went wrong in words, and a way back."""
    message = error.message if error is not None else "Something went wrong on our side."
    home = "/admin" if request.url.path.startswith("/admin") else "/portal"
    return render(
        request, "error.html", status=status, message=message, status_code=status, home=home
    )


def is_page(request: Request) -> bool:
    path = request.url.path
    return path == "/portal" or path.startswith(("/portal/", "/admin"))


class Static(StaticFiles):
    """The pages' own CSS and script (nothing comes from another origin)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response


def static_files() -> Static:
    return Static(directory=STATIC)


def entered(request: Request, cookie: str, token: str, path: str) -> Response:
    """A session just opened: its cookie, and the page it opens."""
    response = redirect(request, path)
    set_cookie(response, request, cookie, token, path)
    return response


def sign_out(request: Request, csrf: str, cookie: str, path: str, page: HTMLResponse) -> Response:
    """End the session behind `cookie` (its form's token checked), then show `page`."""
    app = trustable(request)
    token = request.cookies.get(cookie)
    check_form(request, token, {"csrf": csrf})
    with app.uow() as uow:
        close_session(uow, app.vault, token)
        uow.commit()
    clear_cookie(page, request, cookie, path)
    return page
