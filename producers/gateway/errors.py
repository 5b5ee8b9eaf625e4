"""Uniform error responses: ``{"error": {"status", "message", "details"}}`` for every
failure the gateway returns, its own and the framework's (404, 405, 500)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic_core import to_json
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger(__name__)
# Where the handler leaves an ApiError's ``reason`` in the request's state, for the
# gateway's refusal counter (producers.gateway.metrics).
REFUSAL_KEY = "riverbed_refusal"


class ApiError(Exception):
    """An HTTP error with a message safe to show (never a secret or a stack trace).

    ``reason`` is a short fixed word for metrics (``auth_throttled``), when the status
    alone does not say it; never built from the request.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers
        self.reason = reason


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        to_json(body), status_code=status, media_type="application/json", headers=headers
    )


def error_response(
    status: int, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body = {"error": {"status": status, "message": message, "details": details}}
    return json_response(status, body, headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.reason is not None:
        setattr(request.state, REFUSAL_KEY, exc.reason)
    return error_response(exc.status, exc.message, exc.details, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), None, dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return error_response(422, "invalid request", details)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
