from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

pytestmark = pytest.mark.unit


def replay(generated: Any) -> tuple[dict[tuple[str, str], int], Counter[str]]:
    """Stock as a processor would derive it from the events alone; never negative."""
    known = {c.customer_id for c in generated.sim.catalog.customers}
    levels: dict[tuple[str, str], int] = {}
    reserved: dict[str, list[tuple[str, int]]] = {}
    outcomes: Counter[str] = Counter()

    def change(store: str, sku: str, delta: int) -> None:
        levels[(store, sku)] = levels.get((store, sku), 0) + delta
        assert levels[(store, sku)] >= 0, (store, sku)

    for event in generated.opening + generated.events:
        p = event.payload
        if event.type == "stock.received":
            change(p.store_id, p.sku, p.quantity)
        elif event.type == "stock.adjusted":
            change(p.store_id, p.sku, p.delta)
        elif event.type == "order.placed":
            lines = [(line.sku, line.quantity) for line in p.lines]
            if p.customer_id not in known:
                outcomes["unknown_customer"] += 1
            elif all(levels.get((p.store_id, sku), 0) >= qty for sku, qty in lines):
                for sku, qty in lines:
                    change(p.store_id, sku, -qty)
                reserved[p.order_id] = lines
                outcomes["confirmed"] += 1
            else:
                outcomes["out_of_stock"] += 1
        elif event.type == "order.cancelled":
            for sku, qty in reserved.pop(p.order_id, []):
                change(p.store_id, sku, qty)
    return levels, outcomes


def test_the_stock_model_matches_a_replay_of_the_events_and_never_goes_negative(
    generated: Any,
) -> None:
    levels, outcomes = replay(generated)
    stats = generated.sim.orders.stats
    assert levels == generated.sim.stock.levels()
    assert outcomes == {
        "confirmed": stats.confirmed,
        "out_of_stock": stats.out_of_stock,
        "unknown_customer": stats.unknown_customer,
    }
    assert min(levels.values()) >= 0
    assert 0 in levels.values()  # some SKU ran out at some store


def test_opening_stock_covers_every_store_and_sku(generated: Any) -> None:
    catalog = generated.sim.catalog
    pairs = [(e.payload.store_id, e.payload.sku) for e in generated.opening]
    assert len(pairs) == len(set(pairs)) == len(catalog.stores) * len(catalog.products)
    assert {e.type for e in generated.opening} == {"stock.received"}


def test_restocks_follow_demand(generated: Any) -> None:
    demand: Counter[str] = Counter()
    for event in generated.of_type("order.placed"):
        for line in event.payload.lines:
            demand[line.sku] += line.quantity
    received: Counter[str] = Counter()
    for event in generated.of_type("stock.received"):
        received[event.payload.sku] += event.payload.quantity
    top = [sku for sku, _ in demand.most_common(10)]
    bottom = [sku for sku, _ in demand.most_common()[-30:]]
    assert sum(received[s] for s in top) > 5 * sum(received[s] for s in bottom)


def test_adjustments_are_occasional_both_ways_with_reason_codes(generated: Any) -> None:
    adjusted = generated.of_type("stock.adjusted")
    inventory = adjusted + generated.of_type("stock.received")
    assert 0.1 < len(adjusted) / len(inventory) < 0.5
    assert {e.payload.reason for e in adjusted} == {"damaged", "count_correction"}
    assert all(e.payload.delta < 0 for e in adjusted if e.payload.reason == "damaged")
    deltas = [e.payload.delta for e in adjusted]
    assert min(deltas) < 0 < max(deltas) and 0 not in deltas
