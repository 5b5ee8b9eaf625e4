"""A worker started with RIVERBED_METRICS_PORT serves /metrics, /healthz and /readyz.

(processors/runtime/metrics.py; the dashboard's own endpoints are in test_read_api.py.)
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from riverbed.sandbox import Namespace
from schemas import ORDERS_TOPIC, OrderLine, OrderPlaced, new_event
from tests.integration.ports import free_ports

pytestmark = pytest.mark.asyncio(loop_scope="session")


def order(i: int) -> Any:
    line = OrderLine(sku="k1", quantity=1, unit_price=Decimal("1.00"), currency="EUR")
    placed = OrderPlaced(order_id=f"m{i}", customer_id="c1", store_id="s1", lines=(line,))
    return new_event(placed, source="test")


async def scrape_until(url: str, needles: list[str], seconds: float) -> str:
    text = ""
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(int(seconds * 4)):
            try:
                text = (await client.get(url)).text
            except httpx.HTTPError:
                text = ""
            if all(n in text for n in needles):
                return text
            await asyncio.sleep(0.25)
    raise AssertionError(f"{url} never showed {needles}:\n{text[-3000:]}")


async def test_orders_worker_serves_its_metrics(
    ns: Namespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    (port,) = free_ports(1)  # orders is the first kind: it binds the base port itself
    # Namespace.start passes os.environ (its extra_env argument is not applied yet).
    monkeypatch.setenv("RIVERBED_METRICS_PORT", str(port))
    ns.start("orders")
    await ns.publish([order(i) for i in range(3)])
    await ns.publish_raw(ORDERS_TOPIC, b"s1", b"{not json")
    base = f"http://127.0.0.1:{port}"
    text = await scrape_until(
        f"{base}/metrics",
        [
            'riverbed_events_processed_total{type="order.placed",worker="orders"} 3.0',
            'riverbed_events_failed_total{type="other",worker="orders"} 1.0',
            'riverbed_dead_letters_total{worker="orders"} 1.0',
        ],
        90,
    )
    assert 'riverbed_flush_seconds_count{worker="orders"}' in text
    assert "riverbed_consumer_lag_messages" in text or "process_cpu_seconds_total" in text
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "worker": "orders"}
        assert (await client.get("/readyz")).status_code == 200
