"""A point on the map, shared by the order and delivery contracts.

WGS84 degrees as JSON numbers. The bounds are the globe's: a point outside them is a
typo (latitude and longitude swapped, or metres), not a place.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas.base import Contract

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class GeoPoint(Contract):
    """A WGS84 position in degrees."""

    lat: Latitude
    lon: Longitude
