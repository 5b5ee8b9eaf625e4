"""Exact answers by brute force, for small instances: the bench's and the tests' yardstick.

Every visit order of every trip and every one-to-one assignment of trips to shoppers:
factorial, so only for a handful of orders and shoppers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from processors.dispatch.geo import Point, street_m
from processors.dispatch.solver import IdleShopper, Trip, route_length


def best_route(start: Point, stops: Sequence[Point]) -> float:
    """The shortest open path from ``start`` through every stop."""
    return min(
        (
            route_length(start, [stops[i] for i in p])
            for p in itertools.permutations(range(len(stops)))
        ),
        default=0.0,
    )


def best_total(store: Point, trips: Sequence[Trip], shoppers: Sequence[IdleShopper]) -> float:
    """The least total metres (to the store plus the best route) serving every trip.

    ``trips`` must not outnumber ``shoppers``; a trip larger than a shopper's capacity
    cannot go to them.
    """
    routes = [best_route(store, [o.dropoff for o in t.orders]) for t in trips]
    best = float("inf")
    for chosen in itertools.permutations(range(len(shoppers)), len(trips)):
        if any(len(t.orders) > shoppers[c].capacity for t, c in zip(trips, chosen, strict=True)):
            continue
        total = sum(street_m(shoppers[c].position, store) + routes[i] for i, c in enumerate(chosen))
        best = min(best, total)
    return best
