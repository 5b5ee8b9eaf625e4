"""The matching and routing on hand-made cases with known answers, and on random small
instances against brute force."""

from __future__ import annotations

import random

import pytest

from processors.dispatch.exact import best_route, best_total
from processors.dispatch.geo import Point, street_m
from processors.dispatch.solver import (
    IdleShopper,
    Trip,
    WaitingOrder,
    assign,
    greedy_assign,
    held_karp,
    improve,
    make_batches,
    nearest_neighbour,
    plan_route,
    route_length,
)

pytestmark = pytest.mark.unit

STORE: Point = (52.3700, 4.8900)  # Amsterdam
DEG = 0.009  # ~1 km of latitude


def at(dlat_km: float, dlon_km: float) -> Point:
    return (STORE[0] + dlat_km * DEG, STORE[1] + dlon_km * DEG * 1.64)


def order(n: int, p: Point, waited: float = 10.0) -> WaitingOrder:
    return WaitingOrder(f"o-{n}", p, waited)


def trip(*orders: WaitingOrder) -> Trip:
    _, length = plan_route(STORE, [o.dropoff for o in orders])
    return Trip(tuple(orders), length, ready=True)


def test_a_line_of_stops_is_visited_in_order() -> None:
    stops = [at(3, 0), at(1, 0), at(2, 0)]
    order_, length = plan_route(STORE, stops)
    assert order_ == [1, 2, 0]
    assert length == pytest.approx(street_m(STORE, at(3, 0)), rel=1e-3)


def test_two_opt_and_or_opt_improve_nearest_neighbour() -> None:
    rng = random.Random(3)
    better = 0
    for _ in range(40):
        stops = [at(rng.uniform(-5, 5), rng.uniform(-5, 5)) for _ in range(7)]
        greedy = nearest_neighbour(STORE, stops)
        mended = improve(STORE, stops, greedy)
        assert sorted(mended) == list(range(7))
        greedy_len = route_length(STORE, [stops[i] for i in greedy])
        mended_len = route_length(STORE, [stops[i] for i in mended])
        assert mended_len <= greedy_len + 1e-6
        better += mended_len < greedy_len - 1
    assert better >= 10  # nearest neighbour alone leaves crossings in many of them


def test_held_karp_matches_brute_force() -> None:
    rng = random.Random(5)
    for n in range(1, 7):
        stops = [at(rng.uniform(-5, 5), rng.uniform(-5, 5)) for _ in range(n)]
        order_ = held_karp(STORE, stops)
        assert route_length(STORE, [stops[i] for i in order_]) == pytest.approx(
            best_route(STORE, stops), rel=1e-12
        )


def test_the_cheaper_total_wins_over_the_nearest_shopper_first() -> None:
    # Greedy gives the oldest trip the shopper nearest the store, leaving the other trip
    # the far shopper; only one shopper (a) can carry the 3-order trip.
    big = trip(order(1, at(1, 1), 30), order(2, at(1.2, 1), 30), order(3, at(1, 1.2), 30))
    small = trip(order(4, at(-1, 0), 40))
    a = IdleShopper("a", at(0, 0.5), 3)  # near, carries three
    b = IdleShopper("b", at(0, 1.5), 1)  # a little farther, carries one
    c = IdleShopper("c", at(0, 6), 3)  # far
    matches = {m.shopper.shopper_id: m.trip for m in assign(STORE, [big, small], [a, b, c])}
    assert matches == {"a": big, "b": small}
    greedy = {m.shopper.shopper_id: m.trip for m in greedy_assign(STORE, [big, small], [a, b, c])}
    assert greedy == {"a": small, "c": big}  # the nearest shopper went to the older trip
    ours = sum(m.total_m for m in assign(STORE, [big, small], [a, b, c]))
    theirs = sum(m.total_m for m in greedy_assign(STORE, [big, small], [a, b, c]))
    assert ours < theirs - 3000


def test_assignment_is_optimal_against_brute_force_on_random_small_instances() -> None:
    rng = random.Random(7)
    for _ in range(60):
        n_shoppers = rng.randint(1, 4)
        trips = [
            trip(
                *(
                    order(10 * t + k, at(rng.uniform(-4, 4), rng.uniform(-4, 4)))
                    for k in range(rng.randint(1, 3))
                )
            )
            for t in range(rng.randint(1, n_shoppers))
        ]
        shoppers = [
            IdleShopper(f"s{i}", at(rng.uniform(-5, 5), rng.uniform(-5, 5)), 3)
            for i in range(n_shoppers)
        ]
        matches = assign(STORE, trips, shoppers)
        assert len(matches) == len(trips)
        ours = sum(m.total_m for m in matches)
        assert ours <= best_total(STORE, trips, shoppers) * 1.05
        assert ours <= sum(m.total_m for m in greedy_assign(STORE, trips, shoppers)) + 1e-6


def test_heuristic_routes_beyond_the_exact_size_stay_within_five_percent() -> None:
    rng = random.Random(11)
    worst = 1.0
    for _ in range(20):  # 7 stops: the heuristic's size (exact up to 5), brute force in ~50 ms
        stops = [at(rng.uniform(-5, 5), rng.uniform(-5, 5)) for _ in range(7)]
        _, length = plan_route(STORE, stops)
        worst = max(worst, length / best_route(STORE, stops))
    assert worst <= 1.05


def test_orders_going_the_same_way_share_a_trip_up_to_the_capacity() -> None:
    north = [order(i, at(3 + 0.1 * i, 0), waited=5 - i) for i in range(4)]
    south = [order(9, at(-3, 0), waited=1)]
    trips = make_batches(STORE, north + south, max_size=3, window_s=2)
    got = sorted(sorted(o.order_id for o in t.orders) for t in trips)
    assert got == [["o-0", "o-1", "o-2"], ["o-3"], ["o-9"]]
    ready = {t.orders[0].order_id: t.ready for t in trips}
    assert ready["o-3"] is True  # waited 2 s: the window is over
    assert ready["o-9"] is False  # 1 s: it may still gain a companion
    full = next(t for t in trips if len(t.orders) == 3)
    assert full.ready


def test_more_trips_than_shoppers_serves_the_oldest_first() -> None:
    old = trip(order(1, at(4, 4), waited=50))
    new = trip(order(2, at(0.5, 0), waited=1))
    only = IdleShopper("s", STORE, 2)
    assert [m.trip for m in assign(STORE, [new, old], [only])] == [old]


def test_a_trip_larger_than_every_capacity_is_left_waiting() -> None:
    big = trip(order(1, at(1, 0)), order(2, at(1.1, 0)))
    assert assign(STORE, [big], [IdleShopper("s", STORE, 1)]) == []
