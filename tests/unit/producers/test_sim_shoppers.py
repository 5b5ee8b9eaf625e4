from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from producers.simulators.shoppers import Fleet, metres
from schemas import (
    DeliveryAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    GeoPoint,
    ShopperLocation,
    ShopperOnline,
    Stop,
)

pytestmark = pytest.mark.unit
STORE = (52.37, 4.89)


def trip(shopper: str, doors: list[tuple[float, float]]) -> DeliveryAssigned:
    return DeliveryAssigned(
        delivery_id="d-1",
        shopper_id=shopper,
        store_id="s1",
        order_ids=tuple(f"o{i}" for i in range(len(doors))),
        route=(
            Stop(kind="pickup", position=GeoPoint(lat=STORE[0], lon=STORE[1])),
            *(
                Stop(kind="dropoff", position=GeoPoint(lat=d[0], lon=d[1]), order_id=f"o{i}")
                for i, d in enumerate(doors)
            ),
        ),
        distance_m=1000.0,
        eta=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_a_shopper_comes_online_rides_at_street_speed_picks_up_and_delivers() -> None:
    fleet = Fleet([("s1", STORE)], 1, random.Random(1), speed_kmh=18.0)
    first = fleet.step(0.0)
    assert [type(e) for e in first] == [ShopperOnline]
    (shopper,) = fleet.shoppers.values()
    door = (STORE[0] + 0.009, STORE[1])  # ~1 km north
    assert fleet.assigned(trip(shopper.shopper_id, [door]))
    assert not fleet.assigned(trip(shopper.shopper_id, [door]))  # the same trip again
    to_store = metres(shopper.position, STORE)
    seen: list[object] = []
    t = 0.0
    while shopper.trip is not None and t < 3600:
        t += 1.0
        before = shopper.position
        seen += fleet.step(t)
        assert metres(before, shopper.position) <= 5.0 + 1e-6  # 18 km/h = 5 m/s
    kinds = [type(e) for e in seen if not isinstance(e, ShopperLocation)]
    assert kinds[0] is DeliveryPickedUp
    assert kinds[1] in (DeliveryDelivered, DeliveryFailed)
    assert t == pytest.approx((to_store + metres(STORE, door)) / 5.0, abs=2.0)
    assert any(isinstance(e, ShopperLocation) for e in seen)  # it reported where it was


def test_time_scale_speeds_the_ride_up() -> None:
    fleet = Fleet([("s1", STORE)], 1, random.Random(1), time_scale=20)
    assert fleet.speed_mps == pytest.approx(100.0)


def test_a_run_tags_its_shoppers_and_ends_their_shifts() -> None:
    fleet = Fleet([("s1", STORE)], 2, random.Random(1), shift="ab12")
    assert sorted(fleet.shoppers) == ["s1-sh00-ab12", "s1-sh01-ab12"]
    fleet.step(0.0)
    ended = fleet.end_shifts()
    assert sorted(e.shopper_id for e in ended) == ["s1-sh00-ab12", "s1-sh01-ab12"]
    assert all(type(e).__name__ == "ShopperOffline" for e in ended)
    assert fleet.end_shifts() == []
