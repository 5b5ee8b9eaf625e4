"""The gateway's app factory: wiring only (settings in, FastAPI app out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry import context as otel_context
from starlette.types import Receive, Scope, Send

from core import __version__
from core.settings import Settings
from core.tracing import Tracing, tracing_for
from producers.gateway.auth import Authenticator
from producers.gateway.errors import install_error_handlers
from producers.gateway.failures import FailureLimit
from producers.gateway.keys import KeyStore
from producers.gateway.metrics import install_metrics
from producers.gateway.ratelimit import RateLimiter
from producers.gateway.routes import router
from producers.gateway.shared import Gateway
from producers.gateway.web import HttpMiddleware, SecurityHeaders, install_docs
from producers.publisher import Publisher


def create_app(
    settings: Settings,
    *,
    publisher: Publisher | None = None,
    keys: KeyStore | None = None,
    tracing: Tracing | None = None,
) -> FastAPI:
    """The HTTP gateway; its lifespan starts and stops ``publisher`` (default: a new one).

    ``tracing`` (default: the ``gateway`` component's when ``otel_endpoint`` is set): each
    request is a server span that continues an incoming ``traceparent`` header, and the
    default publisher's ``send`` spans are its children.
    """
    tracing = tracing if tracing is not None else tracing_for(settings, "gateway")
    if publisher is None:
        publisher = Publisher(settings, tracer=tracing.tracer if tracing else None)
    state = Gateway(
        settings,
        publisher,
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
    if tracing is not None:
        trace_requests(app, tracing)
    return app


def trace_requests(app: FastAPI, tracing: Tracing) -> None:
    """OpenTelemetry's ASGI instrumentation: a server span per request (W3C
    ``traceparent`` continued), health probes and docs left out, each request starting
    from an empty trace context.

    Why the reset: behind ``riverbed simulate --via gateway`` (one keep-alive client
    sending batches back to back) every request after the first became a child of an
    earlier one, a single trace of 4,364 spans after 3,000 events, while sequential
    requests from another client did not. An empty context at the start of each request
    makes only the ``traceparent`` header a parent.
    """
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app.add_middleware(
        OpenTelemetryMiddleware,
        tracer_provider=tracing.provider,
        excluded_urls="/healthz,/readyz,/docs,/openapi.json",
        exclude_spans=["receive", "send"],  # the ASGI message spans: noise, and cost
    )
    app.add_middleware(FreshTraceContext)  # added last: runs first


class FreshTraceContext(HttpMiddleware):
    """Runs each HTTP request with an empty OpenTelemetry context."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = otel_context.attach(otel_context.Context())
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)
