"""The live feed: ``/api/stream`` (Server-Sent Events) and ``/api/snapshot``.

Every stream sends the same bytes the poller serialized once (see :mod:`dashboard.hub`);
opening a page adds a waiter, never a database read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response, StreamingResponse

from dashboard.components import Dashboard, dashboard
from producers.gateway.errors import error_response

router = APIRouter(tags=["live"])
State = Annotated[Dashboard, Depends(dashboard)]
RETRY_MS = 2000


def sse(data: bytes, event: str = "snapshot") -> bytes:
    """One Server-Sent Event (JSON has no raw newlines, so one ``data:`` line)."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


@router.get("/api/stream", summary="Live snapshots (text/event-stream), one per poll")
async def stream(state: State) -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        state.metrics.clients.inc()
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            async for data in state.hub.subscribe():
                yield sse(data)
        finally:
            state.metrics.clients.dec()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/api/snapshot", summary="The latest snapshot (what the stream last sent)")
async def snapshot(state: State) -> Response:
    data = state.hub.latest
    if data is None:
        return error_response(503, "no snapshot yet: the first poll has not finished")
    return Response(data, media_type="application/json")
