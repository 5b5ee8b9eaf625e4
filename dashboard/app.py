"""The dashboard's app factory: wiring only (settings in, FastAPI app out)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from dashboard.api import live, ops, orders, pages, viewing
from dashboard.config import DashboardConfig
from dashboard.state import Dashboard
from producers.gateway.errors import install_error_handlers
from riverbed import __version__
from riverbed.settings import Settings

log = logging.getLogger("riverbed.dashboard")


def create_app(settings: Settings, *, config: DashboardConfig | None = None) -> FastAPI:
    """The dashboard and read API; its lifespan runs the one shared poller."""
    state = Dashboard.build(settings, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        missing = pages.missing_vendor_files()
        if missing:
            log.warning("charting library missing (%s): %s", ", ".join(missing), pages.INSTALL_HINT)
        await state.open()
        try:
            yield
        finally:
            await state.close()

    app = FastAPI(
        title="Riverbed dashboard",
        version=__version__,
        description="The live dashboard (`/`, fed by `/api/stream`) and the read API over "
        "Riverbed's stores. Lists take `limit` (1..100) and `offset` (>= 0); errors are "
        '`{"error": {status, message, details}}`.',
        lifespan=lifespan,
    )
    app.state.dashboard = state
    install_error_handlers(app)
    for router in (pages.router, live.router, orders.router, viewing.router, ops.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app
