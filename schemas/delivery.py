"""Shopper and delivery contracts: who is free where, and who brings which orders.

Shoppers work the zone of one store (``store_id``): their events travel keyed by it, on
a topic with the store topics' partition count, so a store's confirmed orders and its
shoppers reach the same dispatch partition (see ``schemas.topics``). The dispatch
processor emits ``delivery.assigned``; the shopper's app reports ``delivery.picked_up``,
``delivery.delivered`` (one per order) and ``delivery.failed``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from schemas.base import Contract, Payload
from schemas.fields import Id, ReasonCode
from schemas.geo import GeoPoint

MAX_CAPACITY = 20
MAX_ROUTE_M = 1_000_000.0

Capacity = Annotated[int, Field(strict=True, ge=1, le=MAX_CAPACITY)]
Metres = Annotated[float, Field(ge=0, le=MAX_ROUTE_M, allow_inf_nan=False)]


class ShopperOnline(Payload):
    """A shopper started a shift in a store's zone, at ``position``, carrying ``capacity`` orders."""

    EVENT_TYPE = "shopper.online"
    EVENT_VERSION = 1

    shopper_id: Id
    store_id: Id
    position: GeoPoint
    capacity: Capacity


class ShopperOffline(Payload):
    """A shopper ended the shift; no new delivery is assigned to them."""

    EVENT_TYPE = "shopper.offline"
    EVENT_VERSION = 1

    shopper_id: Id
    store_id: Id


class ShopperLocation(Payload):
    """Where an online shopper is now (sent every few seconds while on shift)."""

    EVENT_TYPE = "shopper.location"
    EVENT_VERSION = 1

    shopper_id: Id
    store_id: Id
    position: GeoPoint
    capacity: Capacity


class Stop(Contract):
    """One stop of a planned route: the store (``pickup``) or an order's door (``dropoff``)."""

    kind: Literal["pickup", "dropoff"]
    position: GeoPoint
    order_id: Id | None = None


class DeliveryAssigned(Payload):
    """Dispatch gave a shopper a trip: the store's orders, the route and its arrival time."""

    EVENT_TYPE = "delivery.assigned"
    EVENT_VERSION = 1

    delivery_id: Id
    shopper_id: Id
    store_id: Id
    order_ids: Annotated[tuple[Id, ...], Field(min_length=1, max_length=MAX_CAPACITY)]
    route: Annotated[tuple[Stop, ...], Field(min_length=2, max_length=MAX_CAPACITY + 1)]
    distance_m: Metres
    eta: AwareDatetime


class DeliveryPickedUp(Payload):
    """The shopper left the store with the trip's orders."""

    EVENT_TYPE = "delivery.picked_up"
    EVENT_VERSION = 1

    delivery_id: Id
    shopper_id: Id
    store_id: Id


class DeliveryDelivered(Payload):
    """One order of a trip reached its customer."""

    EVENT_TYPE = "delivery.delivered"
    EVENT_VERSION = 1

    delivery_id: Id
    shopper_id: Id
    store_id: Id
    order_id: Id


class DeliveryFailed(Payload):
    """An order of a trip could not be delivered (or the whole trip, without ``order_id``)."""

    EVENT_TYPE = "delivery.failed"
    EVENT_VERSION = 1

    delivery_id: Id
    shopper_id: Id
    store_id: Id
    order_id: Id | None = None
    reason: ReasonCode
