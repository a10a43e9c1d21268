"""The FastAPI application: the domains' routers behind one error contract."""

from __future__ import annotations

from fastapi import FastAPI

from trustable import __version__
from trustable.access.key_routes import router as keys_router
from trustable.access.routes import router as access_router
from trustable.analytics.routes import router as analytics_router
from trustable.api import docs, errors
from trustable.api.cors import BrowserCORS
from trustable.api.headers import DefaultHeaders
from trustable.bootstrap import Trustable
from trustable.consent.gpc import GPC_LAST_UPDATE
from trustable.consent.routes import router as consent_router
from trustable.destinations.routes import router as destinations_router
from trustable.events.routes import router as events_router
from trustable.incidents.routes import router as incidents_router
from trustable.ledger.routes import router as ledger_router
from trustable.personalize.routes import guard_router
from trustable.personalize.routes import router as personalize_router
from trustable.portal.routes import router as portal_router
from trustable.rights.routes import router as rights_router
from trustable.segments.routes import router as segments_router
from trustable.web.analytics import router as analytics_page
from trustable.web.banner import router as banner_script
from trustable.web.console import router as console_pages
from trustable.web.dashboard import router as dashboard_page
from trustable.web.incidents import router as incidents_pages
from trustable.web.keys import router as keys_pages
from trustable.web.merges import router as merges_pages
from trustable.web.pages import static_files
from trustable.web.portal import router as portal_pages


def create_app(trustable: Trustable) -> FastAPI:
    app = FastAPI(
        title="Trustable",
        version=__version__,
        summary="Customer data that customers can trust.",
        docs_url=None,  # served by `api.docs`, without a CDN
        redoc_url=None,
    )
    app.state.trustable = trustable
    app.add_middleware(DefaultHeaders)
    app.add_middleware(BrowserCORS)
    errors.install(app)
    docs.install(app)
    app.include_router(events_router)
    app.include_router(consent_router)
    app.include_router(ledger_router)
    app.include_router(access_router)
    app.include_router(keys_router)
    app.include_router(destinations_router)
    app.include_router(rights_router)
    app.include_router(incidents_router)
    if trustable.policy.spec.personalization is not None:
        app.include_router(personalize_router)
    if trustable.policy.spec.guard is not None:
        app.include_router(guard_router)
    app.include_router(portal_router)
    app.include_router(segments_router)
    if trustable.policy.spec.analytics is not None:
        app.include_router(analytics_router)
        app.include_router(analytics_page)
    app.include_router(portal_pages)
    app.include_router(banner_script)
    app.include_router(console_pages)
    app.include_router(dashboard_page)
    app.include_router(incidents_pages)
    app.include_router(merges_pages)
    app.include_router(keys_pages)
    app.mount("/static", static_files(), name="static")

    @app.get("/.well-known/gpc.json", tags=["service"])
    def gpc_support() -> dict[str, object]:
        """Global Privacy Control support, public as the specification asks."""
        return {"gpc": True, "lastUpdate": GPC_LAST_UPDATE}

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness: answers without touching any customer's data."""
        return {"status": "ok", "version": __version__}

    return app
