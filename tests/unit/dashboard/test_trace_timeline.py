"""An order's timeline from Jaeger's JSON: its own trace, or its trace plus the batch's."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.traces import linked_batch, merged, timeline

pytestmark = pytest.mark.unit

EVENT = "6f1c0a52-5f7e-4c43-9d0e-2b8e8f3f6a10"
T = 1_764_000_000_000_000  # µs


def span(
    span_id: str,
    name: str,
    start: int,
    duration: int,
    process: str,
    refs: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    **tags: Any,
) -> dict[str, Any]:
    return {
        "traceID": "t1",
        "spanID": span_id,
        "operationName": name,
        "startTime": T + start,
        "duration": duration,
        "processID": process,
        "references": [{"refType": k, "traceID": t, "spanID": s} for k, t, s in refs],
        # keyword names with "_" for "." (messaging_message_id); "__" for "_"
        "tags": [
            {"key": k.replace("__", "\0").replace("_", ".").replace("\0", "_"), "value": v}
            for k, v in tags.items()
        ],
    }


def gateway_spans() -> list[dict[str, Any]]:
    return [
        span("a", "POST /v1/events", 0, 5_000, "p1", span_kind="server"),
        span(
            "b",
            "send t.orders",
            1_000,
            3_000,
            "p1",
            [("CHILD_OF", "t1", "a")],
            messaging_message_id=EVENT,
            messaging_destination_name="t.orders",
        ),
    ]


def worker_spans(batch_refs: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    return [
        span(
            "c",
            "process t.orders",
            54_000,
            30_000,
            "p2",
            batch_refs,
            messaging_batch_message__count=7,
        ),
        span("d", "transaction", 55_000, 20_000, "p2", [("CHILD_OF", "t1", "c")]),
        span("e", "decide", 55_500, 18_000, "p2", [("CHILD_OF", "t1", "d")]),
        span(
            "f",
            "outbox publish",
            76_000,
            6_000,
            "p2",
            [("CHILD_OF", "t1", "c")],
            riverbed_emitted=3,
        ),
    ]


PROCESSES = {
    "p1": {"serviceName": "riverbed-gateway"},
    "p2": {"serviceName": "riverbed-orders"},
    "p3": {"serviceName": "riverbed-inventory"},
}


def test_every_step_of_a_trace_that_holds_the_batch() -> None:
    skip = span(
        "g",
        "skip stock.reserved",
        90_000,
        100,
        "p3",
        [("CHILD_OF", "t1", "b")],
        riverbed_event_type="stock.reserved",
        riverbed_skipped="yes",
    )
    batch_refs = [("CHILD_OF", "t1", "b"), ("FOLLOWS_FROM", "t1", "b")]
    trace = {
        "traceID": "t1",
        "spans": [*gateway_spans(), *worker_spans(batch_refs), skip],
        "processes": PROCESSES,
    }
    steps = timeline(trace, EVENT)
    assert [(s.step, s.duration_ms) for s in steps] == [
        ("accepted", 5.0),
        ("appended", 3.0),
        ("batch wait", 50.0),  # from the send's end (4 ms) to the batch's start (54 ms)
        ("decision", 18.0),
        ("commit", 1.5),  # the transaction's end after the decision's
        ("decision published", 6.0),
        ("stock movement applied", 0.1),
    ]
    assert steps[1].detail.startswith("t.orders / partition ")
    assert steps[0].at == "2025-11-24T16:00:00Z"
    assert steps[-1].service == "riverbed-inventory" and "skipped" in steps[-1].detail
    assert linked_batch(trace, EVENT) is None


def test_a_batch_in_another_trace_is_read_through_the_orders_link() -> None:
    own = span(
        "h",
        "process t.orders",
        54_000,
        30_000,
        "p2",
        [("CHILD_OF", "t1", "b"), ("FOLLOWS_FROM", "t2", "c")],
    )
    trace = {"traceID": "t1", "spans": [*gateway_spans(), own], "processes": PROCESSES}
    assert [s.step for s in timeline(trace, EVENT)] == ["accepted", "appended", "batch wait"]
    assert linked_batch(trace, EVENT) == "t2"
    batch = {
        "traceID": "t2",
        "spans": worker_spans([("CHILD_OF", "t2", "z")]),
        "processes": {"p2": PROCESSES["p2"]},
    }
    steps = timeline(merged(trace, batch), EVENT)
    assert [s.step for s in steps] == [
        "accepted",
        "appended",
        "batch wait",
        "decision",
        "commit",
        "decision published",
    ]
    assert steps[3].service == "riverbed-orders"


def test_an_event_the_trace_does_not_hold_has_no_steps() -> None:
    trace = {"traceID": "t1", "spans": gateway_spans(), "processes": PROCESSES}
    assert timeline(trace, "another-event") == []


def test_an_order_sent_in_a_batch_is_found_by_its_create_span() -> None:
    server, send = gateway_spans()
    send["tags"] = [{"key": "messaging.batch.message_count", "value": 2}]
    create = span(
        "x",
        "create t.orders",
        1_500,
        10,
        "p1",
        [("CHILD_OF", "t1", "b")],
        messaging_message_id=EVENT,
        messaging_destination_name="t.orders",
    )
    batch_refs = [("CHILD_OF", "t1", "x"), ("FOLLOWS_FROM", "t1", "x")]
    trace = {
        "traceID": "t1",
        "spans": [server, send, create, *worker_spans(batch_refs)],
        "processes": PROCESSES,
    }
    steps = timeline(trace, EVENT)
    assert [s.step for s in steps][:4] == ["accepted", "appended", "batch wait", "decision"]
    assert steps[0].detail == "POST /v1/events"


def test_the_stock_step_is_the_orders_own_reservation() -> None:
    def skip(span_id: str, start: int, event_id: str) -> dict[str, Any]:
        return span(
            span_id,
            "skip stock.reserved",
            start,
            100,
            "p3",
            [("CHILD_OF", "t1", "b")],
            riverbed_event_type="stock.reserved",
            riverbed_skipped="yes",
            messaging_message_id=event_id,
        )

    batch_refs = [("CHILD_OF", "t1", "b")]
    trace = {
        "traceID": "t1",
        "spans": [
            *gateway_spans(),
            *worker_spans(batch_refs),
            skip("o", 88_000, "another-order's"),
            skip("m", 90_000, "mine"),
        ],
        "processes": PROCESSES,
    }
    last = timeline(trace, EVENT, frozenset({"mine"}))[-1]
    assert last.step == "stock movement applied"
    assert last.at == "2025-11-24T16:00:00.090000Z"
