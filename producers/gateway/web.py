"""What both HTTP apps (gateway and dashboard) send with every response, and their API
docs served from this process: no CDN, no inline script.

``/docs`` is Swagger UI from the ``fastapi-offline`` package's files (a PyPI dependency,
so its version is pinned in ``uv.lock``, not copied into this repository), started by a
small script served at ``/docs/init.js``: the Content-Security-Policy can then forbid
every inline script and every other origin. Swagger UI styles its markup inline, so
``/docs`` alone allows inline styles.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_ASSETS = Path(str(files("fastapi_offline") / "static"))
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class HttpMiddleware:
    """An ASGI middleware that acts on HTTP requests only: lifespan and other scopes pass
    straight through to the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeaders(HttpMiddleware):
    """Adds the CSP and the usual hardening headers to every HTTP response."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        csp = DOCS_CSP if scope["path"].startswith("/docs") else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", csp.encode()),
                    *_HEADERS,
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/docs/assets/favicon.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
_DOCS_INIT = (
    'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", '
    "presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout', deepLinking: true});\n"
)


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI, local files) on an app made with ``docs_url=None``."""
    page = _DOCS_HTML.format(title=app.title)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(_DOCS_INIT, media_type="text/javascript")

    app.mount("/docs/assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
