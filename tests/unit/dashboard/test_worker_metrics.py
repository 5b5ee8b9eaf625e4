"""Worker metrics: processed and failed per type, flush latency, DLQ count, ports."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest

from core.settings import Settings
from processors.runtime.metrics import WorkerMetrics, event_type_of
from schemas import HEADER_TYPE

pytestmark = pytest.mark.unit


class Env:
    def __init__(self, type_: str) -> None:
        self.type = type_


def value(m: WorkerMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


async def test_successful_flush_counts_events_per_type() -> None:
    m = WorkerMetrics(Settings(), "orders")
    seen: list[Any] = []

    async def flush(envelopes: list[Any]) -> None:
        seen.extend(envelopes)

    observed = m.observe(flush)
    await observed([Env("order.placed"), Env("order.placed"), Env("order.cancelled")])  # type: ignore[list-item]
    assert len(seen) == 3
    assert value(m, "riverbed_events_processed_total", worker="orders", type="order.placed") == 2
    assert value(m, "riverbed_events_processed_total", worker="orders", type="order.cancelled") == 1
    assert value(m, "riverbed_flush_seconds_count", worker="orders") == 1


async def test_failed_flush_counts_an_error_and_no_events() -> None:
    m = WorkerMetrics(Settings(), "inventory")

    async def flush(envelopes: list[Any]) -> None:
        raise ConnectionError("postgres restarting")

    with pytest.raises(ConnectionError):
        await m.observe(flush)([Env("stock.received")])  # type: ignore[list-item]
    assert value(m, "riverbed_flush_errors_total", worker="inventory") == 1
    assert value(m, "riverbed_flush_seconds_count", worker="inventory") == 1
    assert (
        value(m, "riverbed_events_processed_total", worker="inventory", type="stock.received")
        is None
    )


async def test_dead_letters_count_per_type() -> None:
    m = WorkerMetrics(Settings(), "viewing")
    sent: list[tuple[str, Any]] = []

    async def send(topic: str, key: Any, value_: Any, headers: Any) -> None:
        sent.append((topic, headers))

    dlq = m.dead_letters(send, "viewing", "riverbed.dlq")
    for headers in ([(HEADER_TYPE, b"playback.started")], []):
        await dlq.put(
            key=b"k",
            value=b"v",
            headers=headers,
            topic="t",
            partition=0,
            offset=1,
            exc=ValueError("bad"),
        )
    assert len(sent) == 2 and dlq.count == 2
    assert value(m, "riverbed_dead_letters_total", worker="viewing") == 2
    assert value(m, "riverbed_events_failed_total", worker="viewing", type="playback.started") == 1
    assert value(m, "riverbed_events_failed_total", worker="viewing", type="other") == 1
    assert b"riverbed_events_failed_total" in generate_latest(m.registry)


def test_each_kind_gets_its_own_port_and_zero_means_off() -> None:
    ports = {
        k: WorkerMetrics(Settings(metrics_port=9400), k).port
        for k in ("orders", "inventory", "viewing")
    }
    assert ports == {"orders": 9400, "inventory": 9401, "viewing": 9402}
    assert WorkerMetrics(Settings(metrics_port=0), "orders").port == 0
    assert Settings.model_fields["metrics_port"].default == 0  # off unless asked for
    assert event_type_of([("x", b"1"), (HEADER_TYPE, b"order.placed")]) == "order.placed"
