"""The gateway's app factory: wiring only (settings in, FastAPI app out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from core import __version__
from core.settings import Settings
from producers.gateway.auth import Authenticator
from producers.gateway.errors import install_error_handlers
from producers.gateway.failures import FailureLimit
from producers.gateway.keys import KeyStore
from producers.gateway.metrics import install_metrics
from producers.gateway.ratelimit import RateLimiter
from producers.gateway.routes import router
from producers.gateway.shared import Gateway
from producers.gateway.web import SecurityHeaders, install_docs
from producers.publisher import Publisher


def create_app(
    settings: Settings, *, publisher: Publisher | None = None, keys: KeyStore | None = None
) -> FastAPI:
    """The HTTP gateway; its lifespan starts and stops ``publisher`` (default: a new one)."""
    state = Gateway(
        settings,
        publisher if publisher is not None else Publisher(settings),
        Authenticator(
            keys if keys is not None else KeyStore(settings.gateway_keys_file),
            settings.gateway_api_key,
            failures=FailureLimit(settings.gateway_auth_failures_per_min, 60.0),
        ),
        RateLimiter(settings.gateway_rate_per_s, settings.gateway_rate_burst),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.open()
        try:
            yield
        finally:
            await state.close()

    app = FastAPI(
        title="Riverbed gateway",
        version=__version__,
        description="Publish events to Riverbed over HTTP. Authenticate with `X-API-Key` "
        'or `Authorization: Bearer`; errors are `{"error": {status, message, details}}`.',
        lifespan=lifespan,
        docs_url=None,  # served by install_docs: local assets, no inline script
        redoc_url=None,
    )
    app.state.gateway = state
    install_error_handlers(app)
    app.include_router(router)
    install_docs(app)
    install_metrics(app, state.metrics)
    app.add_middleware(SecurityHeaders)
    return app
