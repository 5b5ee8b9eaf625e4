"""The dashboard's app factory: wiring only (settings in, FastAPI app out)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from core import __version__
from core.settings import Settings
from dashboard.api import delivery, follow, live, ops, orders, pages, viewing
from dashboard.clock import Clock, wall_clock
from dashboard.components import Dashboard
from dashboard.config import DashboardConfig
from dashboard.guard import ReadAuth, StreamCap, allowed_hosts
from producers.gateway.auth import Authenticator
from producers.gateway.errors import error_response, install_error_handlers
from producers.gateway.failures import FailureLimit
from producers.gateway.keys import KeyStore
from producers.gateway.web import SecurityHeaders, install_docs

log = logging.getLogger("riverbed.dashboard")


def create_app(
    settings: Settings,
    *,
    config: DashboardConfig | None = None,
    clock: Clock = wall_clock,
    keys: KeyStore | None = None,
) -> FastAPI:
    """The dashboard and read API; its lifespan runs the one shared poller. ``clock``
    ends every time window (the wall clock; tests pass a fixed one); ``keys``: the reader
    keys (default: ``settings.dashboard_keys_file``)."""
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
        "Riverbed's stores. Lists take `limit` (1..100) and `offset` (0..10000); errors are "
        '`{"error": {status, message, details}}`. Outside development (and for any '
        "non-loopback client) a reader key is needed: `X-API-Key`, `Authorization: Bearer` "
        "or the password of HTTP Basic.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs: local assets, no inline script
        redoc_url=None,
    )
    app.state.dashboard = state
    install_error_handlers(app)
    app.add_exception_handler(asyncpg.CharacterNotInRepertoireError, _unstorable_text)
    for router in (
        pages.router,
        live.router,
        orders.router,
        follow.router,
        delivery.router,
        viewing.router,
        ops.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    install_docs(app)
    # Added innermost first: the Host check runs before anything, the key check before
    # a stream takes one of the capped slots.
    app.add_middleware(StreamCap, limit=settings.dashboard_max_streams)
    app.add_middleware(
        ReadAuth,
        auth=Authenticator(
            keys if keys is not None else KeyStore(settings.dashboard_keys_file),
            None,
            failures=FailureLimit(settings.gateway_auth_failures_per_min, 60.0),
        ),
        loopback_free=settings.environment == "development",
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        TrustedHostMiddleware,
        allowed_hosts=allowed_hosts(settings.dashboard_allowed_hosts, settings.dashboard_host),
    )
    return app


async def _unstorable_text(request: Request, exc: Exception) -> Response:
    # A NUL in an id or a query parameter: PostgreSQL text cannot hold one, so nothing
    # stored can match. The caller's mistake (422), not a server error (500).
    return error_response(422, "invalid request: text may not contain NUL (\\x00)")
