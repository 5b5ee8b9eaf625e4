"""``/healthz`` (the process answers), ``/readyz`` (the last poll reached Kafka,
PostgreSQL and MongoDB) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from dashboard.components import Dashboard, dashboard
from producers.gateway.errors import error_response, json_response

router = APIRouter(tags=["operations"])
State = Annotated[Dashboard, Depends(dashboard)]


@router.get("/healthz", summary="The process is alive")
async def healthz(state: State) -> Response:
    if not state.poller.running:
        return error_response(503, "the poller is not running")
    return json_response(200, {"status": "ok"})


@router.get("/readyz", summary="Kafka, PostgreSQL and MongoDB answered the last poll")
async def readyz(state: State) -> Response:
    data = state.hub.latest
    if data is None:
        return error_response(503, "not ready: the first poll has not finished")
    health = json.loads(data)["health"]
    # Names and states only: this answers without a key, so no addresses or errors.
    states = {name: h["status"] for name, h in health.items()}
    down = sorted(name for name, status in states.items() if status != "up")
    if down:
        return error_response(503, f"not ready: {', '.join(down)} not answering yet", states)
    return json_response(200, {"status": "ready", "services": states})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: State) -> Response:
    state.metrics.observe(state.hub.latest)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
