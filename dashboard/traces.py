"""Follow an order: its trace from Jaeger's query API, as a timeline of named steps.

The order's row names the event that placed it (``orders.placed_event_id``); the span
that sent that event carries it as ``messaging.message.id`` (``producers/tracing.py``),
which Jaeger's search finds by tag. The trace then holds, by the names Riverbed gives
its spans: the gateway's HTTP span, the ``send`` span (topic, partition, offset), the
orders worker's batch span (``process <topic>``, a child of the message's sampled
context or linked to it) with ``decide``, ``transaction`` and ``outbox publish``, and
the inventory worker's handling of the emitted ``stock.reserved``.

Jaeger's JSON: ``data[0].spans[]`` with ``spanID``, ``operationName``, ``references``
(``CHILD_OF`` the parent, ``FOLLOWS_FROM`` a link), ``startTime`` and ``duration`` in
microseconds, ``tags`` and a ``processID`` naming ``processes[id].serviceName``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

LOOKBACK = "2d"


class JaegerUnavailable(Exception):
    """Jaeger's query API did not answer (or not with JSON)."""


@dataclass(frozen=True)
class Step:
    step: str
    at: str  # RFC 3339, UTC
    duration_ms: float
    service: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Jaeger:
    """The two calls of Jaeger's query API this page needs."""

    def __init__(self, base_url: str, *, ui_url: str | None = None, timeout_s: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.ui_url = (ui_url or base_url).rstrip("/")  # as the user's browser reaches it
        self._timeout = timeout_s

    def ui_link(self, trace_id: str) -> str:
        return f"{self.ui_url}/trace/{trace_id}"

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                answer = await client.get(f"{self.base_url}{path}", params=params)
        except httpx.HTTPError as exc:
            raise JaegerUnavailable(f"Jaeger at {self.base_url}: {exc!r}") from exc
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise JaegerUnavailable(f"Jaeger at {self.base_url} answered {answer.status_code}")
        try:
            return answer.json()
        except ValueError as exc:
            raise JaegerUnavailable(f"Jaeger at {self.base_url} did not answer JSON") from exc

    async def find(self, services: list[str], message_id: str) -> str | None:
        """The id of the trace whose send span carried ``message_id``, if kept."""
        tags = json.dumps({"messaging.message.id": message_id})
        for service in services:
            found = await self._get(
                "/api/traces",
                {"service": service, "tags": tags, "limit": "1", "lookback": LOOKBACK},
            )
            for trace in (found or {}).get("data") or []:
                return str(trace["traceID"])
        return None

    async def trace(self, trace_id: str) -> dict[str, Any] | None:
        found = await self._get(f"/api/traces/{trace_id}")
        traces = (found or {}).get("data") or []
        return traces[0] if traces else None


def _message_span(spans: list[dict[str, Any]], message_id: str) -> dict[str, Any] | None:
    """The span whose context the message carried: its ``send`` span, or its ``create``
    span when it was published in a sampled batch."""
    for s in spans:
        if _tags(s).get("messaging.message.id") == message_id and s["operationName"].startswith(
            ("send ", "create ")
        ):
            return s
    return None


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span.get("tags", [])}


def _at(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).isoformat().replace("+00:00", "Z")


def _end(span: dict[str, Any]) -> int:
    return int(span["startTime"]) + int(span["duration"])


def timeline(
    trace: dict[str, Any], message_id: str, movements: frozenset[str] = frozenset()
) -> list[Step]:
    """The order's steps, in order, from one Jaeger trace (steps it lacks are left out).

    ``movements``: ids of the stock events the order caused; a batch request's trace
    holds other orders' too (default: the first stock event of the trace)."""
    processes = {k: v.get("serviceName", "") for k, v in trace.get("processes", {}).items()}
    spans: list[dict[str, Any]] = sorted(trace.get("spans", []), key=lambda s: s["startTime"])
    by_id = {s["spanID"]: s for s in spans}

    def service(span: dict[str, Any]) -> str:
        return str(processes.get(span.get("processID", ""), ""))

    def refs(span: dict[str, Any]) -> set[str]:
        return {r["spanID"] for r in span.get("references", [])}

    def parent(span: dict[str, Any]) -> str | None:
        for r in span.get("references", []):
            if r.get("refType") == "CHILD_OF":
                return str(r["spanID"])
        return None

    def step(name: str, span: dict[str, Any], detail: str, start: int, end: int) -> Step:
        return Step(name, _at(start), round((end - start) / 1000, 3), service(span), detail)

    steps: list[Step] = []
    send = _message_span(spans, message_id)
    if send is None:
        return steps
    # The HTTP span: the send span's parent, or (a batch's create span) its grandparent.
    server = by_id.get(parent(send) or "")
    if server is not None and _tags(server).get("span.kind") != "server":
        server = by_id.get(parent(server) or "")
    if server is not None and _tags(server).get("span.kind") == "server":
        steps.append(
            step("accepted", server, server["operationName"], server["startTime"], _end(server))
        )
    tags = _tags(send)
    where = (
        f"{tags.get('messaging.destination.name', '?')}"
        f" / partition {tags.get('messaging.destination.partition.id', '?')}"
        f" / offset {tags.get('messaging.kafka.offset', '?')}"
    )
    steps.append(step("appended", send, where, send["startTime"], _end(send)))
    batch = next(
        (
            s
            for s in spans
            if s["operationName"].startswith("process ") and send["spanID"] in refs(s)
        ),
        None,
    )
    if batch is None:
        return steps
    if "messaging.batch.message_count" not in _tags(batch):  # the order's own span
        batch = next(
            (
                by_id[r["spanID"]]
                for r in batch.get("references", [])
                if r.get("refType") == "FOLLOWS_FROM"
                and by_id.get(r["spanID"], {}).get("operationName", "").startswith("process ")
            ),
            batch,
        )
    size = _tags(batch).get("messaging.batch.message_count", "?")
    steps.append(
        step(
            "batch wait",
            batch,
            f"until a batch of {size} was flushed",
            _end(send),
            batch["startTime"],
        )
    )
    children = {s["operationName"]: s for s in spans if parent(s) == batch["spanID"]}
    transaction = children.get("transaction")
    decide = next(
        (
            s
            for s in spans
            if s["operationName"] == "decide" and transaction and parent(s) == transaction["spanID"]
        ),
        None,
    )
    if decide is not None:
        steps.append(
            step(
                "decision",
                decide,
                "load, decide, write, stage the outbox",
                decide["startTime"],
                _end(decide),
            )
        )
    if transaction is not None:
        start = _end(decide) if decide is not None else transaction["startTime"]
        steps.append(
            step("commit", transaction, "PostgreSQL transaction commits", start, _end(transaction))
        )
    published = children.get("outbox publish")
    if published is not None:
        emitted = _tags(published).get("riverbed.emitted", "?")
        steps.append(
            step(
                "decision published",
                published,
                f"{emitted} events from the outbox",
                published["startTime"],
                _end(published),
            )
        )
    moved = next(
        (
            s
            for s in spans
            if service(s).endswith("-inventory")
            and _tags(s).get("riverbed.event.type") in ("stock.reserved", "stock.released")
            and (not movements or _tags(s).get("messaging.message.id") in movements)
        ),
        None,
    )
    if moved is not None:
        how = (
            "applied in the orders worker's transaction; the inventory worker skipped it"
            if "riverbed.skipped" in _tags(moved)
            else "applied by the inventory worker"
        )
        steps.append(
            step(
                "stock movement applied",
                moved,
                f"{_tags(moved)['riverbed.event.type']}: {how}",
                moved["startTime"],
                _end(moved),
            )
        )
    return steps


def linked_batch(trace: dict[str, Any], message_id: str) -> str | None:
    """The trace id of the batch that processed ``message_id`` when it is another trace
    (the message's own ``process`` span links to it), else None."""
    spans = trace.get("spans", [])
    send = _message_span(spans, message_id)
    if send is None:
        return None
    own = trace.get("traceID")
    for s in spans:
        refs = s.get("references", [])
        if s["operationName"].startswith("process ") and any(
            r.get("refType") == "CHILD_OF" and r["spanID"] == send["spanID"] for r in refs
        ):
            if "messaging.batch.message_count" in _tags(s):
                return None  # the batch span itself is in this trace
            for r in refs:
                if r.get("refType") == "FOLLOWS_FROM" and r.get("traceID") != own:
                    return str(r["traceID"])
    return None


def merged(trace: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """One trace's spans and processes with another's (process ids kept apart)."""
    spans = list(trace.get("spans", []))
    processes = dict(trace.get("processes", {}))
    for key, process in other.get("processes", {}).items():
        processes[f"linked-{key}"] = process
    for span in other.get("spans", []):
        spans.append({**span, "processID": f"linked-{span.get('processID', '')}"})
    return {**trace, "spans": spans, "processes": processes}
