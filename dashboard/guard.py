"""Who may read the dashboard and its read API, and how many live streams are open.

- **Host header**: only ``dashboard_allowed_hosts`` (plus ``dashboard_host``) are
  served, always, so a page that rebinds its DNS name to 127.0.0.1 gets 400, not data.
- **Reader keys**: a request needs a reader key (``riverbed keys create --reader``), as
  ``X-API-Key``, ``Authorization: Bearer`` or the password of HTTP Basic (so a browser
  can open the page and its event stream: it asks once and resends it). Only in
  ``environment=development`` may a loopback client read without one. ``/healthz``,
  ``/readyz`` (which name no address) and the page's own static files need no key.
  Failures count per client address (429 past ``gateway_auth_failures_per_min``).
- **Stream cap**: at most ``dashboard_max_streams`` open ``/api/stream`` responses;
  the next one gets 503 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from producers.gateway.auth import Authenticator
from producers.gateway.errors import ApiError, error_response

OPEN_PATHS = ("/healthz", "/readyz", "/static/", "/vendor/")
STREAM_PATH = "/api/stream"
_CHALLENGE = 'Basic realm="riverbed", charset="UTF-8"'
# A wildcard bind address is no Host a browser sends; compared here, never bound.
_WILDCARDS = frozenset({"0.0.0.0", "::"})  # noqa: S104


def allowed_hosts(configured: str, bind_host: str) -> list[str]:
    """The Host values served: the configured ones and the address the server binds."""
    hosts = [h.strip() for h in configured.split(",") if h.strip()]
    if bind_host not in _WILDCARDS and bind_host not in hosts:
        hosts.append(f"[{bind_host}]" if ":" in bind_host else bind_host)
    return hosts


def presented_key(headers: Headers) -> str | None:
    """The key of ``X-API-Key``, ``Authorization: Bearer`` or Basic (its password)."""
    key = headers.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ReadAuth:
    """Refuses requests without a valid reader key (see the module's rules)."""

    def __init__(self, app: ASGIApp, *, auth: Authenticator, loopback_free: bool) -> None:
        self.app = app
        self.auth = auth
        self.loopback_free = loopback_free

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else ""
        if self.loopback_free and is_loopback(client):
            await self.app(scope, receive, send)
            return
        try:
            await self.auth.authenticate(presented_key(Headers(scope=scope)), client)
        except ApiError as exc:
            headers = dict(exc.headers or {})
            if exc.status == 401:
                headers["WWW-Authenticate"] = _CHALLENGE
            message = "a reader key is required (riverbed keys create --reader)"
            response = error_response(
                exc.status, message if exc.status == 401 else exc.message, headers=headers
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class StreamCap:
    """At most ``limit`` concurrent ``/api/stream`` responses (503 beyond)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.open = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != STREAM_PATH:
            await self.app(scope, receive, send)
            return
        if self.open >= self.limit:
            response = error_response(
                503,
                f"too many live streams open (at most {self.limit}); retry later",
                headers={"Retry-After": "10"},
            )
            await response(scope, receive, send)
            return
        # Counted around the whole response: a stream that never started still ends here.
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1
