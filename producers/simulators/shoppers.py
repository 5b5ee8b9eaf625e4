"""Simulated shoppers: shifts, movement at street speed, pick-ups and drop-offs.

A pure model driven by the wall clock the caller passes in (tests step it by hand).
Each shopper works one store's zone: comes online near it, waits there while idle (and
drifts back to the store), and, once dispatch gives it a trip (:meth:`Fleet.assigned`),
rides to the store, reports ``delivery.picked_up``, then each door in the route's order
(``delivery.delivered``, or now and then ``delivery.failed``: nobody home). While online
it reports ``shopper.location`` every few seconds. Idle shoppers end their shift now and
then and come back later, so dispatch sees shoppers come and go.

``time_scale`` speeds the world up for a demo (20 = a 10-minute ride takes 30 s); the
speed is a street speed (18 km/h, a bicycle in town), times the scale.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas import (
    DeliveryAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    GeoPoint,
    Payload,
    ShopperLocation,
    ShopperOffline,
    ShopperOnline,
)

EARTH_M = 6_371_000.0
LOCATION_EVERY_S = 2.0
FAIL_RATE = 0.02  # doors where nobody opens
SHIFT_END_PER_S = 1 / 600  # an idle shopper ends the shift after ~10 minutes on average
BREAK_S = (20.0, 60.0)  # how long an offline shopper stays away (simulated seconds)
CAPACITIES = (2, 3, 3, 4)

Point = tuple[float, float]


def metres(a: Point, b: Point) -> float:
    """Great-circle metres between two (lat, lon) points."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def toward(a: Point, b: Point, step_m: float) -> tuple[Point, bool]:
    """``step_m`` from ``a`` toward ``b`` (straight); (where, arrived)."""
    d = metres(a, b)
    if d <= step_m or d == 0:
        return b, True
    f = step_m / d
    return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f), False


@dataclass
class SimShopper:
    shopper_id: str
    store_id: str
    store: Point
    position: Point
    capacity: int
    online: bool = False
    back_at: float = 0.0  # when an offline shopper comes back
    trip: DeliveryAssigned | None = None
    next_stop: int = 0
    last_report: float = -math.inf
    delivered: int = field(default=0)


class Fleet:
    """Every simulated shopper; :meth:`step` moves them and returns what they report."""

    def __init__(
        self,
        stores: Sequence[tuple[str, Point]],
        per_store: int,
        rng: random.Random,
        *,
        speed_kmh: float = 18.0,
        time_scale: float = 1.0,
        shift: str = "",
    ) -> None:
        """``shift`` tags the shopper ids of one run (``store-07-sh03-<shift>``): a fleet
        started again does not reuse the ids of shoppers a stopped run left on a trip."""
        self._rng = rng
        self.speed_mps = speed_kmh / 3.6 * time_scale
        self.time_scale = time_scale
        self.shoppers: dict[str, SimShopper] = {}
        for store_id, where in stores:
            for i in range(per_store):
                sid = f"{store_id}-sh{i:02d}" + (f"-{shift}" if shift else "")
                self.shoppers[sid] = SimShopper(
                    shopper_id=sid,
                    store_id=store_id,
                    store=where,
                    position=self._near(where, 1.5),
                    capacity=rng.choice(CAPACITIES),
                )
        self._clock: float | None = None

    def _near(self, p: Point, km: float) -> Point:
        r = km * math.sqrt(self._rng.random())
        a = self._rng.uniform(0, 2 * math.pi)
        return (
            p[0] + r * math.cos(a) / 111.2,
            p[1] + r * math.sin(a) / (111.2 * math.cos(math.radians(p[0]))),
        )

    def assigned(self, trip: DeliveryAssigned) -> bool:
        """Take a trip dispatch gave one of ours; False if not ours or already on it."""
        s = self.shoppers.get(trip.shopper_id)
        if s is None or (s.trip is not None and s.trip.delivery_id == trip.delivery_id):
            return False
        s.trip, s.next_stop = trip, 0
        return True

    def step(self, now: float) -> list[Payload]:
        """Advance to ``now`` (seconds, monotonic); the events of what happened."""
        dt = 0.0 if self._clock is None else max(now - self._clock, 0.0)
        self._clock = now
        out: list[Payload] = []
        for s in self.shoppers.values():
            if not s.online:
                if now >= s.back_at:
                    s.online = True
                    s.last_report = now
                    out.append(self._online(s))
                continue
            if s.trip is None:
                s.position, _ = toward(s.position, s.store, self.speed_mps * dt * 0.3)
                if self._rng.random() < SHIFT_END_PER_S * dt * self.time_scale:
                    s.online = False
                    s.back_at = now + self._rng.uniform(*BREAK_S) / self.time_scale
                    out.append(ShopperOffline(shopper_id=s.shopper_id, store_id=s.store_id))
                    continue
            else:
                out += self._ride(s, self.speed_mps * dt)
            if now - s.last_report >= LOCATION_EVERY_S:
                s.last_report = now
                out.append(self._location(s))
        return out

    def _ride(self, s: SimShopper, budget_m: float) -> list[Payload]:
        out: list[Payload] = []
        trip = s.trip
        while trip is not None and budget_m > 0:
            stop = trip.route[s.next_stop]
            target = (stop.position.lat, stop.position.lon)
            before = s.position
            s.position, arrived = toward(s.position, target, budget_m)
            budget_m -= metres(before, s.position)
            if not arrived:
                break
            ids = dict(delivery_id=trip.delivery_id, shopper_id=s.shopper_id, store_id=s.store_id)
            if stop.kind == "pickup":
                out.append(DeliveryPickedUp(**ids))
            elif stop.order_id is not None:
                if self._rng.random() < FAIL_RATE:
                    out.append(DeliveryFailed(**ids, order_id=stop.order_id, reason="nobody_home"))
                else:
                    out.append(DeliveryDelivered(**ids, order_id=stop.order_id))
                    s.delivered += 1
            s.next_stop += 1
            if s.next_stop >= len(trip.route):
                s.trip, trip = None, None
        return out

    def end_shifts(self) -> list[Payload]:
        """Every online shopper goes offline (the run stops): dispatch stops offering
        them trips, and the map stops drawing them."""
        out: list[Payload] = []
        for s in self.shoppers.values():
            if s.online:
                s.online = False
                out.append(ShopperOffline(shopper_id=s.shopper_id, store_id=s.store_id))
        return out

    def _online(self, s: SimShopper) -> ShopperOnline:
        return ShopperOnline(
            shopper_id=s.shopper_id,
            store_id=s.store_id,
            position=_geo(s.position),
            capacity=s.capacity,
        )

    def _location(self, s: SimShopper) -> ShopperLocation:
        return ShopperLocation(
            shopper_id=s.shopper_id,
            store_id=s.store_id,
            position=_geo(s.position),
            capacity=s.capacity,
        )


def _geo(p: Point) -> GeoPoint:
    return GeoPoint(lat=round(p[0], 6), lon=round(p[1], 6))
