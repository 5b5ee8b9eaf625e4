"""Batching, assignment and routing: pure functions, no I/O (unit-tested on fakes).

* :func:`make_batches`: a store's waiting orders, oldest first, each seeding a trip that
  takes the next-oldest orders whose drop-offs are within a few H3 rings of the seed's
  (up to the capacity). A trip is *ready* when it is full or its oldest order has waited
  the batching window; the others wait for more orders going their way.
* :func:`assign`: ready trips to idle shoppers at minimum total cost (travel to the store
  plus the trip's route) with SciPy's ``linear_sum_assignment`` (the Hungarian method,
  exact for this one-to-one problem). With more trips than shoppers the oldest trips go
  first, so no order starves behind cheaper ones.
* :func:`plan_route`: exact (Held-Karp) up to five stops, else nearest neighbour, then
  2-opt and or-opt moves until none improves: the route starts at the store and ends at
  the last drop-off (no return).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from processors.dispatch.geo import DROPOFF_RES, Point, cell, gather, street_m

INFEASIBLE = 1e12  # a trip larger than the shopper's capacity
EPS = 1e-9
# Held-Karp is 2^n n^2 steps: 800 at 5 stops (~0.3 ms in Python), 4,600 at 7 (~2 ms).
EXACT_STOPS = 5


@dataclass(frozen=True, slots=True)
class WaitingOrder:
    order_id: str
    dropoff: Point
    waited_s: float


@dataclass(frozen=True, slots=True)
class IdleShopper:
    shopper_id: str
    position: Point
    capacity: int


@dataclass(frozen=True, slots=True)
class Trip:
    """Orders of one store that leave together, in the order the route visits them."""

    orders: tuple[WaitingOrder, ...]
    route_m: float
    ready: bool


@dataclass(frozen=True, slots=True)
class Match:
    trip: Trip
    shopper: IdleShopper
    to_store_m: float

    @property
    def total_m(self) -> float:
        return self.to_store_m + self.trip.route_m


def route_length(start: Point, stops: Sequence[Point]) -> float:
    """Metres of the open path ``start -> stops[0] -> ... -> stops[-1]``."""
    total, here = 0.0, start
    for p in stops:
        total += street_m(here, p)
        here = p
    return total


def nearest_neighbour(start: Point, stops: Sequence[Point]) -> list[int]:
    """Visit order: always the closest stop not yet visited."""
    left = list(range(len(stops)))
    order: list[int] = []
    here = start
    while left:
        nxt = min(left, key=lambda i: street_m(here, stops[i]))
        left.remove(nxt)
        order.append(nxt)
        here = stops[nxt]
    return order


def _matrix(start: Point, stops: Sequence[Point]) -> list[list[float]]:
    """Street metres between every two of ``start`` (index 0) and the stops (1..n)."""
    pts = [start, *stops]
    return [[street_m(a, b) for b in pts] for a in pts]


def _length(d: list[list[float]], order: Sequence[int]) -> float:
    total, here = 0.0, 0
    for i in order:
        total += d[here][i + 1]
        here = i + 1
    return total


def improve(start: Point, stops: Sequence[Point], order: list[int]) -> list[int]:
    """2-opt (reverse a segment) and or-opt (move a run of 1-3 stops) until none shortens it."""
    d = _matrix(start, stops)
    best = list(order)
    best_len = _length(d, best)
    n = len(best)
    improved = True
    while improved:
        improved = False
        candidates: list[list[int]] = [
            best[:i] + best[i : j + 1][::-1] + best[j + 1 :]
            for i in range(n - 1)
            for j in range(i + 1, n)
        ]
        for run in (1, 2, 3):
            for i in range(n - run + 1):
                seg, rest = best[i : i + run], best[:i] + best[i + run :]
                candidates += [rest[:j] + seg + rest[j:] for j in range(len(rest) + 1) if j != i]
        for cand in candidates:
            length = _length(d, cand)
            if length < best_len - EPS:
                best, best_len, improved = cand, length, True
                break
    return best


def held_karp(start: Point, stops: Sequence[Point]) -> list[int]:
    """The exact shortest open path (dynamic programming over subsets, O(2^n n^2))."""
    n = len(stops)
    d = _matrix(start, stops)
    # best[(mask, last)] = (length, previous) of the shortest path from start over mask.
    best: dict[tuple[int, int], tuple[float, int]] = {
        (1 << i, i): (d[0][i + 1], -1) for i in range(n)
    }
    for mask in range(1, 1 << n):
        for last in range(n):
            here = best.get((mask, last))
            if here is None:
                continue
            for nxt in range(n):
                if mask & (1 << nxt):
                    continue
                key = (mask | (1 << nxt), nxt)
                length = here[0] + d[last + 1][nxt + 1]
                if key not in best or length < best[key][0]:
                    best[key] = (length, last)
    full = (1 << n) - 1
    last = min(range(n), key=lambda i: best[(full, i)][0])
    order, mask = [], full
    while last != -1:
        order.append(last)
        last, mask = best[(mask, last)][1], mask & ~(1 << last)
    return order[::-1]


def plan_route(start: Point, stops: Sequence[Point]) -> tuple[list[int], float]:
    """The visit order of ``stops`` from ``start`` and its length in metres.

    Exact up to :data:`EXACT_STOPS` stops (a trip is at most a shopper's capacity, mostly
    2-4 orders); the heuristic beyond.
    """
    if len(stops) <= EXACT_STOPS:
        order = held_karp(start, stops) if stops else []
    else:
        order = improve(start, stops, nearest_neighbour(start, stops))
    return order, route_length(start, [stops[i] for i in order])


def make_batches(
    store: Point,
    orders: Sequence[WaitingOrder],
    *,
    max_size: int,
    window_s: float,
    only_ready: bool = False,
) -> list[Trip]:
    """Group ``orders`` (oldest first) into trips of up to ``max_size`` going the same way.

    ``only_ready`` leaves out (and does not route) the trips still waiting for more orders:
    the worker's pass routes only what it can assign now.
    """
    if max_size < 1:
        return []
    ordered = sorted(orders, key=lambda o: -o.waited_s)
    cells = [cell(o.dropoff, DROPOFF_RES) for o in ordered]
    near = gather(cells)
    taken = [False] * len(ordered)
    trips = []
    for i, seed in enumerate(ordered):
        if taken[i]:
            continue
        taken[i] = True
        members = [seed]
        for j in range(i + 1, len(ordered)):
            if len(members) >= max_size:
                break
            if not taken[j] and cells[j] in near[i]:
                taken[j] = True
                members.append(ordered[j])
        ready = len(members) >= max_size or seed.waited_s >= window_s
        if only_ready and not ready:
            continue
        visit, length = plan_route(store, [o.dropoff for o in members])
        trips.append(Trip(orders=tuple(members[k] for k in visit), route_m=length, ready=ready))
    return trips


def assign(store: Point, trips: Sequence[Trip], shoppers: Sequence[IdleShopper]) -> list[Match]:
    """Ready trips matched one-to-one with shoppers at minimum total metres."""
    ready = sorted((t for t in trips if t.ready), key=lambda t: -t.orders[0].waited_s)
    ready = ready[: len(shoppers)]  # oldest first when shoppers are short
    if not ready or not shoppers:
        return []
    to_store = np.array([street_m(s.position, store) for s in shoppers])
    cost = np.empty((len(ready), len(shoppers)))
    for i, trip in enumerate(ready):
        fits = np.array([len(trip.orders) <= s.capacity for s in shoppers])
        cost[i] = np.where(fits, to_store + trip.route_m, INFEASIBLE)
    rows, cols = linear_sum_assignment(cost)
    return [
        Match(ready[r], shoppers[c], float(to_store[c]))
        for r, c in zip(rows, cols, strict=True)
        if cost[r, c] < INFEASIBLE
    ]


def greedy_assign(
    store: Point, trips: Sequence[Trip], shoppers: Sequence[IdleShopper]
) -> list[Match]:
    """The baseline: oldest trip first, each takes the nearest idle shopper that fits."""
    free = list(shoppers)
    out = []
    for trip in sorted((t for t in trips if t.ready), key=lambda t: -t.orders[0].waited_s):
        fits = [s for s in free if len(trip.orders) <= s.capacity]
        if not fits:
            continue
        best = min(fits, key=lambda s: street_m(s.position, store))
        free.remove(best)
        out.append(Match(trip, best, street_m(best.position, store)))
    return out
