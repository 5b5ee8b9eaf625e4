"""Order contracts: what customers ask for and what the order processor decides.

``order.placed`` and ``order.cancelled`` come from the storefront; ``order.confirmed``
and ``order.rejected`` are emitted by the order processor once it has checked the
customer and reserved stock. All travel keyed by ``store_id`` (see ``schemas.topics``).

``delivery_location`` (where the order goes) was added to ``order.placed`` and
``order.confirmed`` v1 as an optional field: events without it stay valid, and an
order without one serializes byte for byte as before (the field is left out, not
written as ``null``), so consumers on older code keep reading every order that has no
location. Consumers must be upgraded before producers start sending locations, because
contracts refuse unknown fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from schemas.base import Contract, Payload
from schemas.fields import Amount, Currency, Id, Quantity, Sku, Text, UnitPrice
from schemas.geo import GeoPoint

MAX_ORDER_LINES = 100

RejectionReason = Literal["out_of_stock", "unknown_customer", "invalid"]


def _without_absent_location(
    model: Contract, handler: SerializerFunctionWrapHandler
) -> dict[str, object]:
    data: dict[str, object] = handler(model)
    if data.get("delivery_location", ...) is None:
        del data["delivery_location"]  # older consumers refuse the unknown key
    return data


class OrderLine(Contract):
    """One SKU of an order, priced at the time it was placed."""

    sku: Sku
    quantity: Quantity
    unit_price: UnitPrice
    currency: Currency


class OrderPlaced(Payload):
    """A customer placed an order at a store; the order processor decides on it."""

    EVENT_TYPE = "order.placed"
    EVENT_VERSION = 1

    order_id: Id
    customer_id: Id
    store_id: Id
    lines: Annotated[tuple[OrderLine, ...], Field(min_length=1, max_length=MAX_ORDER_LINES)]
    delivery_location: GeoPoint | None = None

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        return _without_absent_location(self, handler)

    @model_validator(mode="after")
    def _one_currency(self) -> OrderPlaced:
        # order.confirmed carries one total in one currency; a mixed order has no total.
        currencies = {line.currency for line in self.lines}
        if len(currencies) > 1:
            raise ValueError(f"all lines must share one currency, got {sorted(currencies)}")
        return self


class OrderCancelled(Payload):
    """The customer withdrew an order; any stock reserved for it is released."""

    EVENT_TYPE = "order.cancelled"
    EVENT_VERSION = 1

    order_id: Id
    store_id: Id
    reason: Text | None = None


class OrderConfirmed(Payload):
    """The order processor accepted an order and reserved its stock."""

    EVENT_TYPE = "order.confirmed"
    EVENT_VERSION = 1

    order_id: Id
    customer_id: Id
    store_id: Id
    total: Amount
    currency: Currency
    delivery_location: GeoPoint | None = None

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        return _without_absent_location(self, handler)


class OrderRejected(Payload):
    """The order processor refused an order; nothing stays reserved for it."""

    EVENT_TYPE = "order.rejected"
    EVENT_VERSION = 1

    order_id: Id
    store_id: Id
    customer_id: Id
    reason: RejectionReason
    detail: Text | None = None
