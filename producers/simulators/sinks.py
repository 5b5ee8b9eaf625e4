"""Where a simulation's batches go: the Kafka publisher, the HTTP gateway or a file.

Each sink turns one batch into a :class:`BatchResult`; it never raises for a delivery
problem (a load generator keeps going and counts failures), only for misuse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO, Any, Protocol

import httpx

from producers.errors import PublishError, PublishRejected
from producers.simulators.runner import BatchResult
from schemas import Envelope, encode

log = logging.getLogger(__name__)

BATCH_PATH = "/v1/events/batch"
RETRY_STATUSES = frozenset({429, 503})
MAX_BACKOFF_S = 30.0
_ACCEPTED = frozenset({"accepted", "ok", "published", "queued", "created", "duplicate"})

Sleep = Callable[[float], Awaitable[object]]


class BatchPublisher(Protocol):
    async def publish_many(self, events: Sequence[Envelope[Any]]) -> Sequence[object]: ...


class PublisherSink:
    """Publishes through :class:`producers.publisher.Publisher` (all-or-error per batch).

    A :class:`PublishError` is retried with the same event ids (consumers deduplicate
    on them); a batch still unacknowledged after ``attempts`` counts as failed whole.
    """

    def __init__(
        self, publisher: BatchPublisher, *, attempts: int = 3, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._publisher = publisher
        self._attempts = max(1, attempts)
        self._sleep = sleep

    async def send(self, batch: Sequence[Envelope[Any]]) -> BatchResult:
        for attempt in range(1, self._attempts + 1):
            try:
                await self._publisher.publish_many(batch)
            except PublishRejected as exc:
                return BatchResult(failed=len(batch), error=str(exc))
            except PublishError as exc:
                if attempt == self._attempts:
                    return BatchResult(failed=len(batch), error=str(exc))
                log.warning("publish failed (attempt %d), retrying: %s", attempt, exc)
                await self._sleep(backoff(attempt))
            else:
                return BatchResult()
        raise AssertionError("unreachable")  # pragma: no cover


class GatewaySink:
    """POSTs batches to the HTTP gateway's ``/v1/events/batch`` with an API key.

    Events arrive with the gateway's ``source`` (``gateway.<key name>``), so their bytes
    differ from a ``--dry-run`` in that field only. 429 and 503 answers (and transport errors) are retried with exponential backoff,
    honouring ``Retry-After``; items the gateway refuses in its 202 answer count as
    failed. ``client`` carries the base URL (and, in tests, a mock transport).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: str,
        *,
        attempts: int = 6,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
        self._attempts = max(1, attempts)
        self._sleep = sleep

    async def send(self, batch: Sequence[Envelope[Any]]) -> BatchResult:
        body = b"[" + b",".join(gateway_json(event) for event in batch) + b"]"
        error = "no attempt made"
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._client.post(BATCH_PATH, content=body, headers=self._headers)
            except httpx.TransportError as exc:
                error, wait = f"gateway unreachable: {exc!r}", backoff(attempt)
            else:
                if response.status_code not in RETRY_STATUSES:
                    return _result(response, len(batch))
                error = f"gateway answered {response.status_code} {response.reason_phrase}"
                wait = retry_after(response.headers.get("Retry-After")) or backoff(attempt)
            if attempt < self._attempts:
                log.debug("%s; retrying in %.2fs", error, wait)
                await self._sleep(wait)
        return BatchResult(failed=len(batch), error=f"{error} (after {self._attempts} attempts)")


class JsonLinesSink:
    """Writes each event's wire bytes as one JSON line (``--dry-run``: no broker)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    async def send(self, batch: Sequence[Envelope[Any]]) -> BatchResult:
        self._out.write(b"".join(encode(event)[0] + b"\n" for event in batch))
        return BatchResult()


def gateway_json(event: Envelope[Any]) -> bytes:
    """The event as the gateway takes it: without ``source``, which the gateway sets from
    the API key (and refuses from clients). ``event_id`` and ``occurred_at`` are kept, so
    a retried batch is deduplicated and times stay simulated."""
    return event.__pydantic_serializer__.to_json(event, exclude={"source"})


def backoff(attempt: int) -> float:
    """0.25s, 0.5s, 1s, ... capped at :data:`MAX_BACKOFF_S`."""
    return float(min(MAX_BACKOFF_S, 0.25 * 2 ** (attempt - 1)))


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(MAX_BACKOFF_S, max(0.0, seconds))


def _result(response: httpx.Response, size: int) -> BatchResult:
    if not response.is_success:
        return BatchResult(
            failed=size, error=f"gateway answered {response.status_code}: {response.text[:300]}"
        )
    try:
        body = response.json()
    except ValueError:
        return BatchResult()  # accepted, with no per-item detail
    rejected = _rejected_items(body)
    if not rejected:
        return BatchResult()
    return BatchResult(failed=len(rejected), error=f"gateway refused an event: {rejected[0]}"[:500])


def _rejected_items(body: object) -> list[object]:
    """The per-item statuses that are not acceptances, whatever list they come in."""
    items = body
    if isinstance(body, dict):
        items = next((body[k] for k in ("items", "results", "statuses", "events") if k in body), [])
    if not isinstance(items, list):
        return []
    return [item for item in items if not _accepted(item)]


def _accepted(item: object) -> bool:
    if isinstance(item, str):
        return item.lower() in _ACCEPTED
    if isinstance(item, dict):
        status = item.get("status")
        if isinstance(status, int):
            return 200 <= status < 300
        if isinstance(status, str):
            return status.lower() in _ACCEPTED
        return "error" not in item and "errors" not in item
    return True
