"""API keys over HTTP, for admin keys: list them, revoke one.

Creating keys stays with the CLI and the console, where the new secret is shown to
a person once; an API that answered secrets would put them in some client's logs.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from trustable.access.schemas import KeyOut
from trustable.access.service import ApiKey, list_keys, revoke_key
from trustable.api.deps import needs, trustable

router = APIRouter(tags=["keys"])
admin = Depends(needs("admin"))


@router.get("/v1/keys", response_model=list[KeyOut])
def keys(request: Request, _: ApiKey = admin) -> list[KeyOut]:
    """Every API key, oldest first: id, name, scopes, created, last used, expiry,
    revocation. Never a secret."""
    app = trustable(request)
    with app.reader() as uow:
        found = list_keys(uow)
    now = app.clock()
    return [KeyOut.of(k, now) for k in found]


@router.post("/v1/keys/{key_id}/revoke", response_model=KeyOut)
def revoke(key_id: str, request: Request, _: ApiKey = admin) -> KeyOut:
    """Revoke a key: refused from the next request on, by every process. Revoking a
    revoked key changes nothing (its first revocation time stays)."""
    app = trustable(request)
    now = app.clock()
    with app.uow() as uow:
        found, _revoked = revoke_key(uow, key_id, now=now)
        uow.commit()
    return KeyOut.of(found, now)
