"""The HTTP endpoints. Every request: authenticate (401; 429 after too many failures
from one address), check the content type (415) and size (413), parse once (400), charge
the key's rate limit (429), check each event's type against the key's scopes and its
``store_id``/``user_id`` against the key's bound stores and users (403), validate (422,
also for an ``occurred_at`` too far in the future), publish and answer 202 only once the
broker acknowledged (503 if it did not). Events older than ``gateway_old_event_age_s``
are accepted and counted in the ``X-Riverbed-Old-Events`` response header.

Batch rule: 202 when at least one event was accepted, with a status per item (rejected
items carry their errors and were not published); 422 when none was valid, with the
same per-item list as ``details``; 413 for more than ``gateway_max_batch`` events;
403 when any event's type is outside the key's scopes: then the whole batch is refused
and nothing is published, with each ``{index, type}`` out of scope as ``details``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from producers.gateway.body import check_content_type, parse_json, read_limited
from producers.gateway.errors import ApiError, error_response, json_response
from producers.gateway.ingest import new_event_ids, prepare, source_for
from producers.gateway.keys import KeyRecord
from producers.gateway.metrics import EVENTS_KEY
from producers.gateway.models import (
    BATCH_SCHEMA,
    EVENT_SCHEMA,
    Accepted,
    BatchResult,
    error_responses,
    json_body,
)
from producers.gateway.objects import out_of_bounds
from producers.gateway.player import HEADER as PLAYER_HEADER
from producers.gateway.player import user_of
from producers.gateway.scopes import out_of_scope
from producers.gateway.shared import Gateway, gateway
from producers.gateway.timing import OLD_EVENTS_HEADER, future_error, is_old
from schemas.envelope import Envelope

router = APIRouter()
State = Annotated[Gateway, Depends(gateway)]


_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


async def caller(
    request: Request,
    api_key: Annotated[str | None, Security(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> KeyRecord:
    """The key's record: ``X-API-Key`` first, else ``Authorization: Bearer``; or 401."""
    key = (api_key or "").strip() or (bearer.credentials.strip() if bearer else "")
    state: Gateway = request.app.state.gateway
    client = request.client.host if request.client else ""
    return await state.auth.authenticate(key or None, client)


Caller = Annotated[KeyRecord, Depends(caller)]


def _check_scopes(who: KeyRecord, items: list[Any], *, batch: bool) -> None:
    """403 if any item's (known) event type is outside the key's scopes."""
    refused = out_of_scope(who.types, items)
    if not refused:
        return
    scopes = ", ".join(who.types)
    if not batch:
        raise ApiError(
            403,
            f"key {who.name!r} may not publish {refused[0]['type']} events; "
            f"its scopes are: {scopes}",
            reason="out_of_scope",
        )
    shown = ", ".join(f"[{r['index']}] {r['type']}" for r in refused[:10])
    more = f" and {len(refused) - 10} more" if len(refused) > 10 else ""
    raise ApiError(
        403,
        f"key {who.name!r} may not publish {len(refused)} of the batch's events "
        f"({shown}{more}); its scopes are: {scopes}; nothing was published",
        details=refused,
        reason="out_of_scope",
    )


def _check_objects(state: Gateway, request: Request, who: KeyRecord, items: list[Any]) -> None:
    """403 naming the field if any item names a store or user the key is not bound to;
    for a key with player tokens, 403 unless a valid token names the one user allowed."""
    users = who.users
    if who.player_tokens:
        secret = state.settings.gateway_player_token_secret
        user = user_of(
            request.headers.get(PLAYER_HEADER),
            secret.get_secret_value() if secret is not None else None,
            time.time(),
        )
        if user is None or (users is not None and user not in users):
            raise ApiError(
                403,
                f"key {who.name!r} needs a valid, unexpired {PLAYER_HEADER} "
                "(for one of its users); nothing was published",
                reason="out_of_bounds",
            )
        users = (user,)
    refused = out_of_bounds({"stores": who.stores, "users": users}, items)
    if not refused:
        return
    first = refused[0]
    raise ApiError(
        403,
        f"key {who.name!r} may not publish events for {first['field']} {first['value']!r}"
        + (f" (and {len(refused) - 1} more refused)" if len(refused) > 1 else "")
        + "; nothing was published",
        details=refused,
        reason="out_of_bounds",
    )


def _check_time(state: Gateway, event: Envelope[Any], now: datetime) -> list[dict[str, Any]] | bool:
    """The 422 details of an event dated too far ahead, else whether it is old (counted)."""
    error = future_error(event.occurred_at, now, state.settings.gateway_max_future_skew_s)
    if error is not None:
        return [error]
    if is_old(event.occurred_at, now, state.settings.gateway_old_event_age_s):
        state.old_events += 1
        return True
    return False


def _old_header(count: int) -> dict[str, str]:
    return {OLD_EVENTS_HEADER: str(count)} if count else {}


async def _json_body(request: Request, state: Gateway) -> Any:
    headers = request.headers
    check_content_type(headers.get("content-type"), headers.get("content-encoding"))
    body = await read_limited(
        request.stream(),
        limit=state.settings.gateway_max_body_bytes,
        content_length=headers.get("content-length"),
    )
    return parse_json(body)


@router.post(
    "/v1/events",
    status_code=202,
    summary="Publish one event",
    response_model=Accepted,
    responses=error_responses(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra=json_body(EVENT_SCHEMA),
)
async def post_event(request: Request, state: State, who: Caller) -> Response:
    body = await _json_body(request, state)
    state.charge(who.name, 1)
    _check_scopes(who, [body], batch=False)
    _check_objects(state, request, who, [body])
    now = datetime.now(UTC)
    result = prepare(body, source=source_for(who.name), now=now)
    if isinstance(result, list):
        raise ApiError(422, "the event is invalid", details=result)
    timing = _check_time(state, result, now)
    if isinstance(timing, list):
        raise ApiError(422, "the event is invalid", details=timing)
    delivery = await state.publish(result)
    return json_response(
        202,
        {
            "status": "accepted",
            "event_id": delivery.event_id,
            "topic": delivery.topic,
            "partition": delivery.partition,
            "offset": delivery.offset,
        },
        headers=_old_header(int(timing)),
    )


@router.post(
    "/v1/events/batch",
    status_code=202,
    summary="Publish a batch of events",
    description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    response_model=BatchResult,
    responses=error_responses(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra=json_body(BATCH_SCHEMA),
)
async def post_batch(request: Request, state: State, who: Caller) -> Response:
    items = _batch_items(await _json_body(request, state), state.settings.gateway_max_batch)
    setattr(request.state, EVENTS_KEY, len(items))  # a refusal counts them all
    state.charge(who.name, len(items))
    _check_scopes(who, items, batch=True)
    _check_objects(state, request, who, items)
    source, now = source_for(who.name), datetime.now(UTC)
    statuses: list[dict[str, Any]] = []
    valid: list[Envelope[Any]] = []
    positions: list[int] = []
    old = 0
    for index, (item, event_id) in enumerate(zip(items, new_event_ids(len(items)), strict=True)):
        result = prepare(item, source=source, now=now, event_id=event_id)
        if not isinstance(result, list):
            timing = _check_time(state, result, now)
            if isinstance(timing, list):
                result = timing
            else:
                old += timing
        if isinstance(result, list):
            statuses.append({"index": index, "status": "rejected", "errors": result})
        else:
            statuses.append({})  # filled in once acknowledged
            valid.append(result)
            positions.append(index)
    if not valid:
        return error_response(422, "no event in the batch is valid", statuses)
    deliveries = await state.publish_many(valid)
    state.metrics.refuse("invalid", len(items) - len(valid))
    for index, delivery in zip(positions, deliveries, strict=True):
        statuses[index] = {
            "index": index,
            "status": "accepted",
            "event_id": delivery.event_id,
            "partition": delivery.partition,
            "offset": delivery.offset,
        }
    body = {"accepted": len(valid), "rejected": len(items) - len(valid), "items": statuses}
    return json_response(202, body, headers=_old_header(old))


def _batch_items(body: Any, max_batch: int) -> list[Any]:
    if type(body) is dict and set(body) == {"events"}:
        body = body["events"]
    if type(body) is not list:
        raise ApiError(
            422,
            'a batch is a JSON array of events or {"events": [...]}',
            details=[{"loc": [], "msg": "expected an array of events", "type": "batch_type"}],
        )
    if not body:
        raise ApiError(422, "the batch is empty")
    if len(body) > max_batch:
        raise ApiError(413, f"the batch has {len(body)} events; at most {max_batch} are accepted")
    return body


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Kafka is reachable", responses=error_responses(503))
async def readyz(state: State) -> Response:
    if await state.publisher.ping(within_s=min(2.0, state.settings.publisher_send_timeout_s)):
        return json_response(200, {"status": "ready"})
    # No broker address: this answers unauthenticated callers (it is in the logs).
    return error_response(503, "Kafka is not reachable")
