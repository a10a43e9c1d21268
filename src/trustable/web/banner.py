"""`/consent.js`: the consent banner a shop embeds with one line.

The script is served with the policy's words inside it (`consent.banner
.banner_content`), so the banner shows without a second request. It is public, like
the privacy notice it carries: a visitor's browser loads it before anyone is known.
Built once per policy, then answered from memory, gzipped when the browser takes it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trustable.api.deps import trustable
from trustable.consent.banner import banner_content
from trustable.policy.service import Policy

router = APIRouter(tags=["consent"])
TEMPLATE = Path(__file__).parent / "scripts" / "consent.js"
PLACEHOLDER = "__TRUSTABLE_BANNER__"


@dataclass(frozen=True)
class Script:
    policy: Policy
    body: bytes
    gzipped: bytes
    etag: str


def build_script(policy: Policy) -> Script:
    content = json.dumps(banner_content(policy), ensure_ascii=False, separators=(",", ":"))
    # Inside a script, "</" could end an inline copy of it early; \u003c reads the same.
    content = content.replace("<", "\\u003c")
    body = TEMPLATE.read_text(encoding="utf-8").replace(PLACEHOLDER, content, 1).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Script(policy, body, gzip.compress(body, compresslevel=9, mtime=0), etag)


def _script(request: Request) -> Script:
    app = trustable(request)
    held: Script | None = getattr(request.app.state, "consent_script", None)
    if held is None or held.policy is not app.policy:
        held = build_script(app.policy)
        request.app.state.consent_script = held
    return held


@router.get("/consent.js", include_in_schema=False)
def consent_script(request: Request) -> Response:
    script = _script(request)
    headers = {
        "Cache-Control": "public, max-age=300",
        "ETag": script.etag,
        "Vary": "Accept-Encoding",
        # Loaded by the shop's pages, from Trustable's origin.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if request.headers.get("if-none-match") == script.etag:
        return Response(status_code=304, headers=headers)
    body = script.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = script.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)
