from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.unit


def test_unknown_customers_come_at_about_the_configured_rate(make_stream: Any) -> None:
    run = make_stream(8, 15_000, mix="orders=1")
    known = {c.customer_id for c in run.sim.catalog.customers}
    placed = run.of_type("order.placed")
    unknown = [e for e in placed if e.payload.customer_id not in known]
    assert len(placed) > 14_000
    assert len(unknown) / len(placed) == pytest.approx(0.02, abs=0.005)
    assert len(unknown) == run.sim.orders.stats.unknown_customer


def test_orders_have_one_to_five_distinct_lines_priced_from_the_catalog(
    generated: Any,
) -> None:
    products = {p.sku: p for p in generated.sim.catalog.products}
    stores = {s.store_id for s in generated.sim.catalog.stores}
    sizes = set()
    for event in generated.of_type("order.placed"):
        order = event.payload
        sizes.add(len(order.lines))
        assert 1 <= len(order.lines) <= 5
        assert len({line.sku for line in order.lines}) == len(order.lines)
        assert order.store_id in stores and event.key == order.store_id
        for line in order.lines:
            assert 1 <= line.quantity <= 3
            assert (line.unit_price, line.currency) == (products[line.sku].unit_price, "EUR")
    assert sizes == {1, 2, 3, 4, 5}


def test_cancellations_name_earlier_orders_once(generated: Any) -> None:
    placed: dict[str, str] = {}
    cancelled: set[str] = set()
    for event in generated.events:
        if event.type == "order.placed":
            placed[event.payload.order_id] = event.payload.store_id
        elif event.type == "order.cancelled":
            order_id = event.payload.order_id
            assert placed.get(order_id) == event.payload.store_id
            assert order_id not in cancelled
            cancelled.add(order_id)
    assert len(cancelled) / len(placed) == pytest.approx(0.03, abs=0.01)


def test_both_confirmations_and_out_of_stock_rejections_are_expected(
    generated: Any,
) -> None:
    stats = generated.sim.orders.stats
    assert stats.confirmed > 0.8 * stats.placed
    assert stats.out_of_stock > 0.01 * stats.placed
