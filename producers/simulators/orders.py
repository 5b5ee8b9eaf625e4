"""Storefront orders: ``order.placed`` of 1-5 lines and some ``order.cancelled``.

A configurable share of orders comes, on purpose, from customer ids the system does
not know, so the order processor's ``unknown_customer`` rejection gets exercised. Each
order updates the :class:`StockModel` the way the processors should decide it, and the
generator counts those expected decisions (see :class:`OrderStats`).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from producers.simulators.catalog import Catalog, Product, unknown_customer_id
from producers.simulators.clock import EventFactory, SimClock
from producers.simulators.inventory import StockModel
from producers.simulators.zipf import ZipfSampler
from schemas import Envelope, GeoPoint, OrderCancelled, OrderLine, OrderPlaced

SOURCE = "sim-storefront"
LINE_COUNTS = (1, 2, 3, 4, 5)
LINE_COUNT_WEIGHTS = (30, 25, 20, 15, 10)
RECENT_ORDERS = 500
DELIVERY_RADIUS_KM = 4.0  # customers live within this of their store
PROMOTION_MS = 10 * 60 * 1000
PROMOTED_SKUS = 3
PROMOTED_SHARE = 0.2  # of order lines
_CANCEL_REASONS = (
    None,
    "customer changed their mind",
    "ordered by mistake",
    "delivery slot too late",
)


@dataclass
class OrderStats:
    """What the processors should conclude about the orders generated so far."""

    placed: int = 0
    cancelled: int = 0
    unknown_customer: int = 0
    out_of_stock: int = 0

    @property
    def confirmed(self) -> int:
        return self.placed - self.unknown_customer - self.out_of_stock


@dataclass(frozen=True, slots=True)
class _Placed:
    order_id: str
    store_id: str
    lines: tuple[tuple[str, int], ...]
    reserved: bool


class OrderGenerator:
    """Emits ``order.placed`` and ``order.cancelled`` (the latter for earlier orders)."""

    def __init__(
        self,
        catalog: Catalog,
        stock: StockModel,
        rng: random.Random,
        clock: SimClock,
        *,
        unknown_customer_rate: float = 0.02,
        cancel_rate: float = 0.03,
    ) -> None:
        if not 0 <= unknown_customer_rate <= 1 or not 0 <= cancel_rate <= 1:
            raise ValueError("rates must be between 0 and 1")
        self._stock = stock
        self._rng = rng
        self._events = EventFactory(rng, clock, SOURCE)
        self._stores = ZipfSampler(catalog.stores, s=0.6)
        self._where = {s.store_id: (s.lat, s.lon) for s in catalog.stores}
        self._products = ZipfSampler(catalog.products, s=1.0)
        self._customers = ZipfSampler(catalog.customers, s=0.5)
        self._unknown_rate = unknown_customer_rate
        self._cancel_rate = cancel_rate
        self._recent: deque[_Placed] = deque(maxlen=RECENT_ORDERS)
        self._promotion_period = -1
        self._promoted: tuple[Product, ...] = ()
        self.stats = OrderStats()

    def next(self, at_ms: int) -> Envelope[Any]:
        if self._recent and self._rng.random() < self._cancel_rate:
            return self._cancel(at_ms)
        return self._place(at_ms)

    def _place(self, at_ms: int) -> Envelope[Any]:
        rng = self._rng
        order_id = f"ord-{rng.getrandbits(64):016x}"
        store_id = self._stores.sample(rng).store_id
        known = rng.random() >= self._unknown_rate
        customer_id = self._customers.sample(rng).customer_id if known else unknown_customer_id(rng)
        lines = self._lines(at_ms)
        self.stats.placed += 1
        if not known:
            self.stats.unknown_customer += 1
            reserved = False
        else:
            reserved = self._stock.try_reserve(
                store_id, [(sku, qty) for sku, qty, _ in lines], at_ms
            )
            if not reserved:
                self.stats.out_of_stock += 1
        self._recent.append(
            _Placed(order_id, store_id, tuple((s, q) for s, q, _ in lines), reserved)
        )
        payload = OrderPlaced(
            order_id=order_id,
            customer_id=customer_id,
            store_id=store_id,
            lines=tuple(
                OrderLine(sku=sku, quantity=qty, unit_price=price, currency="EUR")
                for sku, qty, price in lines
            ),
            delivery_location=self._door(order_id, store_id),
        )
        return self._events.event(payload, at_ms, correlation_id=order_id)

    def _door(self, order_id: str, store_id: str) -> GeoPoint:
        """Where the order goes: within a few km of the store. Drawn from an rng of the
        order's own (seeded by its id), so the stream's other draws stay as they were."""
        rng = random.Random(order_id)  # noqa: S311 - a simulation, not a secret
        lat, lon = self._where[store_id]
        r = DELIVERY_RADIUS_KM * rng.random() ** 0.5  # uniform over the disk
        angle = rng.uniform(0, 2 * math.pi)
        dlat = r * math.cos(angle) / 111.2
        dlon = r * math.sin(angle) / (111.2 * math.cos(math.radians(lat)))
        return GeoPoint(lat=round(lat + dlat, 6), lon=round(lon + dlon, 6))

    def _lines(self, at_ms: int) -> list[tuple[str, int, Decimal]]:
        rng = self._rng
        promoted = self._promotion(at_ms)
        count = min(rng.choices(LINE_COUNTS, weights=LINE_COUNT_WEIGHTS)[0], len(self._products))
        chosen: dict[str, Decimal] = {}
        while len(chosen) < count:  # distinct SKUs; popular ones are drawn most often
            if rng.random() < PROMOTED_SHARE:
                product = rng.choice(promoted)
            else:
                product = self._products.sample(rng)
            chosen.setdefault(product.sku, product.unit_price)
        return [(sku, rng.randint(1, 3), price) for sku, price in chosen.items()]

    def _promotion(self, at_ms: int) -> tuple[Product, ...]:
        # Demand shifts: every few simulated minutes a few SKUs, often slow sellers with
        # little on the shelf, go on promotion; they are the ones that run out.
        period = at_ms // PROMOTION_MS
        if period != self._promotion_period:
            self._promotion_period = period
            self._promoted = tuple(
                self._rng.sample(self._products.items, min(PROMOTED_SKUS, len(self._products)))
            )
        return self._promoted

    def _cancel(self, at_ms: int) -> Envelope[Any]:
        rng = self._rng
        # Mostly recent orders: customers cancel soon after ordering.
        back = min(len(self._recent) - 1, int(rng.expovariate(1 / 20)))
        order = self._recent[-1 - back]
        del self._recent[-1 - back]
        if order.reserved:
            self._stock.release(order.store_id, order.lines)
        self.stats.cancelled += 1
        payload = OrderCancelled(
            order_id=order.order_id, store_id=order.store_id, reason=rng.choice(_CANCEL_REASONS)
        )
        return self._events.event(payload, at_ms, correlation_id=order.order_id)
