"""Serving the dashboard: one uvicorn process that ends live streams when it stops.

A live page holds its stream open for as long as it is open, and uvicorn's graceful
shutdown waits for open responses: the hub is closed first, so every stream finishes
and a stop (Ctrl-C, SIGTERM) takes a moment, whatever the number of open tabs.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from dashboard.components import Dashboard

SHUTDOWN_GRACE_S = 3  # backstop: cancel what is still open after this long


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: Dashboard) -> None:
        super().__init__(config)
        self._state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._state.hub.close()
        await super().shutdown(sockets)


def serve(
    app: FastAPI,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    log_config: dict[str, Any] | None = None,
) -> None:
    """Serve until stopped; uvicorn logs through ``log_config`` when given
    (``core.logs.uvicorn_log_config``: Riverbed's format), else in its own."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        log_config=log_config if log_config is not None else LOGGING_CONFIG,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    _Server(config, app.state.dashboard).run()
