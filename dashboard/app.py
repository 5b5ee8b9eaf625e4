"""The dashboard's app factory: wiring only (settings in, FastAPI app out)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from core import __version__
from core.settings import Settings
from dashboard.api import live, ops, orders, pages, viewing
from dashboard.clock import Clock, wall_clock
from dashboard.components import Dashboard
from dashboard.config import DashboardConfig
from producers.gateway.errors import error_response, install_error_handlers

log = logging.getLogger("riverbed.dashboard")


def create_app(
    settings: Settings, *, config: DashboardConfig | None = None, clock: Clock = wall_clock
) -> FastAPI:
    """The dashboard and read API; its lifespan runs the one shared poller. ``clock``
    ends every time window (the wall clock; tests pass a fixed one)."""
    state = Dashboard.build(settings, config, clock=clock)

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
    app.add_exception_handler(asyncpg.CharacterNotInRepertoireError, _unstorable_text)
    for router in (pages.router, live.router, orders.router, viewing.router, ops.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app


async def _unstorable_text(request: Request, exc: Exception) -> Response:
    # A NUL in an id or a query parameter: PostgreSQL text cannot hold one, so nothing
    # stored can match. The caller's mistake (422), not a server error (500).
    return error_response(422, "invalid request: text may not contain NUL (\\x00)")
