from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from producers.simulators.catalog import build_catalog
from producers.simulators.clock import seeded_rng
from schemas import decode, encode

pytestmark = pytest.mark.unit


def test_every_event_round_trips_through_the_wire_format(generated: Any) -> None:
    for event in generated.opening + generated.events:
        value, headers = encode(event)
        decoded = decode(value, headers)
        assert decoded == event
        assert encode(decoded)[0] == value


def test_the_default_mix_produces_every_event_kind_in_proportion(generated: Any) -> None:
    kinds = Counter(e.type for e in generated.events)
    assert set(kinds) == {
        "order.placed",
        "order.cancelled",
        "stock.received",
        "stock.adjusted",
        "playback.started",
        "playback.heartbeat",
        "playback.paused",
        "playback.resumed",
        "playback.stopped",
        "playback.completed",
    }
    n = len(generated.events)
    viewing = sum(v for k, v in kinds.items() if k.startswith("playback."))
    orders = kinds["order.placed"] + kinds["order.cancelled"]
    assert viewing / n == pytest.approx(0.6, abs=0.02)
    assert orders / n == pytest.approx(0.2, abs=0.02)


def test_catalog_has_the_configured_reference_data() -> None:
    catalog = build_catalog(seeded_rng(1))
    assert (len(catalog.stores), len(catalog.customers), len(catalog.titles)) == (8, 500, 200)
    assert len(catalog.products) == 120
    for ids in (
        [s.store_id for s in catalog.stores],
        [p.sku for p in catalog.products],
        [c.customer_id for c in catalog.customers],
        [t.title_id for t in catalog.titles],
    ):
        assert len(set(ids)) == len(ids)
    categories = {p.category for p in catalog.products}
    assert {"produce", "dairy", "bakery", "pantry", "frozen", "household"} <= categories
    for p in catalog.products:
        assert p.currency == "EUR"
        assert p.unit_price > 0 and p.unit_price == p.unit_price.quantize(Decimal("0.01"))
        assert 0 < p.low_stock_threshold < p.restock_level
    assert {s.region for s in catalog.stores} <= {"north", "south", "east", "west", "central"}
    assert all(60 <= t.duration_s <= 160 * 60 for t in catalog.titles)
