"""Distances and the H3 index: the dispatch worker's only geometry.

Points are ``(lat, lon)`` tuples in degrees. Street distance is the great-circle distance
times a detour factor of 1.3, an assumption (city street networks are commonly put at
1.2-1.4 times the straight line; not measured here), so an ETA is not the crow's. Shoppers and drop-offs are indexed by H3 cell (Uber's hexagonal
grid, PyPI ``h3``): "shoppers near this store" is a lookup of the cells within a ring,
and "orders going the same way" are orders whose drop-off cells are a few rings apart.
"""

from __future__ import annotations

import functools
import math

import h3

Point = tuple[float, float]
STREET_FACTOR = 1.3
# Shoppers are indexed at resolution 7 (hexagon edge ~1.4 km): a ring of k cells spans
# ~k * 2.4 km, so an 8 km radius is a lookup of ~60 cells.
SHOPPER_RES = 7
# Drop-offs at resolution 8 (edge ~0.53 km): orders whose cells are at most GATHER_RINGS
# apart (~1.5 km) share a trip.
DROPOFF_RES = 8
GATHER_RINGS = 2


def street_m(a: Point, b: Point) -> float:
    """Street distance in metres between two points (great circle x detour factor)."""
    if a == b:
        return 0.0
    return float(h3.great_circle_distance(a, b, unit="m")) * STREET_FACTOR


def cell(p: Point, res: int) -> str:
    """The H3 cell of ``p`` at resolution ``res``."""
    return str(h3.latlng_to_cell(p[0], p[1], res))


def cells_within(p: Point, radius_km: float, res: int = SHOPPER_RES) -> list[str]:
    """Every cell at ``res`` whose centre may lie within ``radius_km`` of ``p`` (a disk)."""
    # Neighbouring cell centres are sqrt(3) edges apart; one ring more covers the edges.
    step = h3.average_hexagon_edge_length(res, unit="km") * math.sqrt(3)
    return list(h3.grid_disk(cell(p, res), math.ceil(radius_km / step) + 1))


def gather(cells: list[str], rings: int = GATHER_RINGS) -> list[frozenset[str]]:
    """For each cell, the disk of cells around it that counts as "the same way"."""
    return [_disk(c, rings) for c in cells]


@functools.lru_cache(maxsize=65_536)
def _disk(c: str, rings: int) -> frozenset[str]:
    # Cached: a city has a few thousand drop-off cells, and every pass asked again
    # (grid_disk was 10 % of the worker's CPU at 1,000 orders/s, py-spy).
    return frozenset(h3.grid_disk(c, rings))
