"""Order contracts: what customers ask for and what the order processor decides.

``order.placed`` and ``order.cancelled`` come from the storefront; ``order.confirmed``
and ``order.rejected`` are emitted by the order processor once it has checked the
customer and reserved stock. All travel keyed by ``store_id`` (see ``schemas.topics``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.base import Contract, Payload
from schemas.fields import Amount, Currency, Id, Quantity, Sku, Text, UnitPrice

MAX_ORDER_LINES = 100

RejectionReason = Literal["out_of_stock", "unknown_customer", "invalid"]


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


class OrderRejected(Payload):
    """The order processor refused an order; nothing stays reserved for it."""

    EVENT_TYPE = "order.rejected"
    EVENT_VERSION = 1

    order_id: Id
    store_id: Id
    customer_id: Id
    reason: RejectionReason
    detail: Text | None = None
