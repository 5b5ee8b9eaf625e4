"""Stock: the simulator's model of what each store holds, and the events that move it.

The model mirrors what the order and inventory processors should conclude: an order
from a known customer reserves its lines if every line is in stock, otherwise it is
rejected and nothing moves; a cancellation gives a reservation back. A SKU that falls to
its low-stock threshold gets a restock ordered, delivered after a lead time of simulated
minutes, so restocks follow demand but a SKU in demand can run out while its delivery is
on the way (and orders for it are then rejected as out of stock). Between deliveries the
stores top up shelves and now and then correct a count.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from producers.simulators.catalog import Catalog, Product
from producers.simulators.clock import EventFactory, SimClock
from producers.simulators.zipf import ZipfSampler
from schemas import Envelope, StockAdjusted, StockReceived

StockKey = tuple[str, str]  # (store_id, sku)

SOURCE = "sim-stores"
ADJUSTMENT_SHARE = 0.2
LEAD_TIME_S = (30, 300)


class StockModel:
    """Expected available stock per (store, SKU); never negative."""

    def __init__(
        self, catalog: Catalog, levels: Mapping[StockKey, int], rng: random.Random
    ) -> None:
        self._products = {p.sku: p for p in catalog.products}
        self._levels = dict(levels)
        self._rng = rng  # draws lead times
        self._restocks: list[tuple[int, int, StockKey]] = []  # (due_ms, seq, key)
        self._queued: set[StockKey] = set()  # membership only: set order is not reproducible
        self._seq = 0

    def level(self, store_id: str, sku: str) -> int:
        return self._levels.get((store_id, sku), 0)

    def levels(self) -> dict[StockKey, int]:
        return dict(self._levels)

    def product(self, sku: str) -> Product:
        return self._products[sku]

    def receive(self, store_id: str, sku: str, quantity: int) -> None:
        self._change(store_id, sku, quantity)

    def adjust(self, store_id: str, sku: str, delta: int) -> None:
        self._change(store_id, sku, delta)

    def try_reserve(self, store_id: str, lines: Sequence[tuple[str, int]], at_ms: int) -> bool:
        """Reserve every line or none (as the processor would); True if reserved.

        SKUs left at or below their threshold get a restock ordered.
        """
        reserved = all(self.level(store_id, sku) >= qty for sku, qty in lines)
        for sku, qty in lines:
            if reserved:
                self._change(store_id, sku, -qty)
            self._maybe_order(store_id, sku, at_ms)
        return reserved

    def release(self, store_id: str, lines: Sequence[tuple[str, int]]) -> None:
        for sku, qty in lines:
            self._change(store_id, sku, qty)

    def due_restock(self, at_ms: int) -> StockKey | None:
        """Take the restock that arrived longest ago, if one has arrived by ``at_ms``."""
        while self._restocks and self._restocks[0][0] <= at_ms:
            _, _, key = heapq.heappop(self._restocks)
            self._queued.discard(key)
            if self.level(*key) < self.product(key[1]).restock_level:
                return key  # else shelves were topped up meanwhile: nothing to deliver
        return None

    def _maybe_order(self, store_id: str, sku: str, at_ms: int) -> None:
        key = (store_id, sku)
        if key not in self._queued and self.level(*key) <= self.product(sku).low_stock_threshold:
            self._seq += 1
            due = at_ms + self._rng.randint(*LEAD_TIME_S) * 1000
            heapq.heappush(self._restocks, (due, self._seq, key))
            self._queued.add(key)

    def _change(self, store_id: str, sku: str, delta: int) -> None:
        level = self.level(store_id, sku) + delta
        if level < 0:
            raise ValueError(f"modeled stock of {sku} at {store_id} would be {level}")
        self._levels[(store_id, sku)] = level


def initial_levels(catalog: Catalog, rng: random.Random) -> dict[StockKey, int]:
    """Opening stock per store and SKU: between half and all of its restock level."""
    return {
        (store.store_id, p.sku): max(1, round(p.restock_level * rng.uniform(0.5, 1.0)))
        for store in catalog.stores
        for p in catalog.products
    }


def initial_stock(
    levels: Mapping[StockKey, int], rng: random.Random, clock: SimClock
) -> Iterator[Envelope[Any]]:
    """One ``stock.received`` per store and SKU, so a fresh system has stock to sell.

    Times count up one millisecond at a time from ``clock``'s current time.
    """
    events = EventFactory(rng, clock, SOURCE)
    for (store_id, sku), quantity in levels.items():
        at = clock.tick()
        yield events.event(StockReceived(store_id=store_id, sku=sku, quantity=quantity), at)


class InventoryGenerator:
    """Deliveries and adjustments at the stores; emits ``stock.received`` / ``stock.adjusted``."""

    def __init__(
        self, catalog: Catalog, stock: StockModel, rng: random.Random, clock: SimClock
    ) -> None:
        self._stock = stock
        self._rng = rng
        self._events = EventFactory(rng, clock, SOURCE)
        self._stores = ZipfSampler(catalog.stores, s=0.6)
        self._products = ZipfSampler(catalog.products, s=1.0)

    def next(self, at_ms: int) -> Envelope[Any]:
        rng = self._rng
        if (arrived := self._stock.due_restock(at_ms)) is not None:
            return self._deliver(*arrived, at_ms)
        store_id = self._stores.sample(rng).store_id
        sku = self._products.sample(rng).sku
        level = self._stock.level(store_id, sku)
        if rng.random() < ADJUSTMENT_SHARE or level >= self._stock.product(sku).restock_level:
            return self._adjust(store_id, sku, at_ms)
        return self._deliver(store_id, sku, at_ms)

    def _deliver(self, store_id: str, sku: str, at_ms: int) -> Envelope[Any]:
        target = self._stock.product(sku).restock_level
        quantity = max(1, target - self._stock.level(store_id, sku))
        self._stock.receive(store_id, sku, quantity)
        payload = StockReceived(store_id=store_id, sku=sku, quantity=quantity)
        return self._events.event(payload, at_ms)

    def _adjust(self, store_id: str, sku: str, at_ms: int) -> Envelope[Any]:
        rng = self._rng
        level = self._stock.level(store_id, sku)
        reason = "damaged" if level > 0 and rng.random() < 0.6 else "count_correction"
        if reason == "damaged" or (level > 0 and rng.random() < 0.5):
            delta = -rng.randint(1, min(3, level))  # never below zero: level > 0 here
        else:
            delta = rng.randint(1, 3)
        self._stock.adjust(store_id, sku, delta)
        payload = StockAdjusted(store_id=store_id, sku=sku, delta=delta, reason=reason)
        return self._events.event(payload, at_ms)
