"""Deliveries and shoppers, from the dispatch tables in PostgreSQL (by primary key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from dashboard.api.models import NOT_FOUND
from dashboard.components import Dashboard, dashboard
from producers.gateway.errors import ApiError
from schemas.fields import ID_PATTERN

router = APIRouter(prefix="/api", tags=["read API"])
State = Annotated[Dashboard, Depends(dashboard)]
IdPath = Annotated[str, Path(pattern=ID_PATTERN, description="letters, digits, _ and -")]

ORDER = (
    "select order_id, store_id, status, confirmed_at, assigned_at, delivered_at, delivery_id "
    "from dispatch_orders where order_id = $1"
)
TRIP = (
    "select delivery_id, shopper_id, store_id, order_ids, route, to_store_m, route_m, "
    "assigned_at, eta, status, picked_up_at, finished_at from deliveries where delivery_id = $1"
)
SHOPPER = (
    "select shopper_id, store_id, online, lat, lon, capacity, delivery_id, seen_at "
    "from shoppers where shopper_id = $1"
)
SHOPPER_TRIPS = (
    "select count(*) as trips, coalesce(sum(cardinality(order_ids)), 0) as orders "
    "from deliveries where shopper_id = $1"
)


class Position(BaseModel):
    lat: float
    lon: float


class RouteStop(BaseModel):
    kind: str
    position: Position
    order_id: str | None = None


class Trip(BaseModel):
    delivery_id: str
    shopper_id: str
    store_id: str
    order_ids: list[str]
    route: list[RouteStop]
    distance_m: float
    assigned_at: datetime
    eta: datetime
    status: str
    picked_up_at: datetime | None
    finished_at: datetime | None


class OrderDelivery(BaseModel):
    order_id: str
    store_id: str
    status: str  # waiting | unroutable | assigned | picked_up | delivered | failed
    confirmed_at: datetime
    assigned_at: datetime | None
    delivered_at: datetime | None
    trip: Trip | None


class Shopper(BaseModel):
    shopper_id: str
    store_id: str
    online: bool
    busy: bool
    position: Position
    capacity: int
    seen_at: datetime
    trip: Trip | None
    trips: int
    orders: int


def _trip(row: Any) -> Trip:
    return Trip.model_validate(
        {**dict(row), "distance_m": round(row["to_store_m"] + row["route_m"], 1)}
    )


@router.get("/orders/{order_id}/delivery", response_model=OrderDelivery, responses=NOT_FOUND)
async def get_order_delivery(order_id: IdPath, state: State) -> OrderDelivery:
    """Where a confirmed order is on its way: waiting, its trip (shopper, route, ETA), done."""
    pool = await state.stores.pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(ORDER, order_id)
        if row is None:
            raise ApiError(404, f"no delivery for order {order_id!r} (not confirmed, or unknown)")
        trip = await conn.fetchrow(TRIP, row["delivery_id"]) if row["delivery_id"] else None
    return OrderDelivery.model_validate(
        {**dict(row), "trip": None if trip is None else _trip(trip)}
    )


@router.get("/shoppers/{shopper_id}", response_model=Shopper, responses=NOT_FOUND)
async def get_shopper(shopper_id: IdPath, state: State) -> Shopper:
    """A shopper: online or not, where, the trip in hand, and how many trips so far."""
    pool = await state.stores.pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(SHOPPER, shopper_id)
        if row is None:
            raise ApiError(404, f"shopper {shopper_id!r} not found")
        trip = await conn.fetchrow(TRIP, row["delivery_id"]) if row["delivery_id"] else None
        counts = await conn.fetchrow(SHOPPER_TRIPS, shopper_id)
    return Shopper.model_validate(
        {
            **dict(row),
            "busy": row["delivery_id"] is not None,
            "position": {"lat": row["lat"], "lon": row["lon"]},
            "trip": None if trip is None else _trip(trip),
            "trips": counts["trips"],
            "orders": counts["orders"],
        }
    )
