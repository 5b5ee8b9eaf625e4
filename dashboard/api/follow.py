"""Follow an order: ``/api/orders/{id}/trace``, its timeline from the trace in Jaeger.

The order's row gives the id of the event that placed it; Jaeger's query API
(``jaeger_url``) finds the trace whose ``send`` span carried that event, and
:func:`dashboard.traces.timeline` names its steps. When the orders worker's batch span
lives in another kept trace (a batch follows its first sampled message), the order's
own ``process`` span links to it and that trace is read too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from core.tracing import service_name
from dashboard import queries
from dashboard.api.models import NOT_FOUND
from dashboard.components import Dashboard, dashboard
from dashboard.traces import Jaeger, JaegerUnavailable, linked_batch, merged, timeline
from processors.commerce.logic import derived_id
from producers.gateway.errors import ApiError

router = APIRouter(prefix="/api", tags=["read API"])
State = Annotated[Dashboard, Depends(dashboard)]


class TraceStep(BaseModel):
    step: str
    at: str
    duration_ms: float
    service: str
    detail: str


class OrderTrace(BaseModel):
    order_id: str
    event_id: str
    trace_id: str | None
    trace_url: str | None
    steps: list[TraceStep]
    note: str


@router.get(
    "/orders/{order_id}/trace",
    response_model=OrderTrace,
    responses={**NOT_FOUND, 503: {"description": "Jaeger's query API is unreachable"}},
)
async def order_trace(order_id: str, state: State) -> OrderTrace:
    """The order's steps from its trace: accepted, appended, batch wait, decision,
    commit, decision published, stock movement applied (those the trace holds)."""
    pool = await state.stores.pool()
    async with pool.acquire() as conn:
        event_id = await conn.fetchval(queries.ORDER_EVENT, order_id)
    if event_id is None:
        raise ApiError(404, f"order {order_id!r} not found")
    settings = state.settings
    jaeger = Jaeger(settings.jaeger_url, ui_url=settings.jaeger_ui_url)
    services = [service_name(settings, c) for c in ("gateway", "publisher")]
    try:
        trace_id = await jaeger.find(services, str(event_id))
        found: dict[str, Any] | None = await jaeger.trace(trace_id) if trace_id else None
        if found is not None and (other := linked_batch(found, str(event_id))) is not None:
            batch_trace = await jaeger.trace(other)
            if batch_trace is not None:
                found = merged(found, batch_trace)
    except JaegerUnavailable as exc:
        raise ApiError(503, f"traces are unavailable: {exc}") from exc
    # The reservation it caused has an id derived from the order's event.
    movements = frozenset({str(derived_id(event_id, "stock.reserved"))})
    steps = timeline(found, str(event_id), movements) if found is not None else []
    if trace_id is None:
        note = (
            "no trace of this order in Jaeger: tracing was off (RIVERBED_OTEL_ENDPOINT), "
            "the trace was not sampled (RIVERBED_OTEL_SAMPLE_RATIO), or it expired"
        )
    else:
        note = f"{len(steps)} steps from trace {trace_id}"
    return OrderTrace(
        order_id=order_id,
        event_id=str(event_id),
        trace_id=trace_id,
        trace_url=jaeger.ui_link(trace_id) if trace_id else None,
        steps=[TraceStep.model_validate(s.as_dict()) for s in steps],
        note=note,
    )
