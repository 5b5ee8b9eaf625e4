"""Inventory contracts: stock movements at a store and the alerts derived from them.

``stock.received`` and ``stock.adjusted`` come from the stores; ``stock.reserved``,
``stock.released`` and ``stock.low`` are emitted by the inventory processor. All travel
keyed by ``store_id``, co-partitioned with orders (see ``schemas.topics``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from schemas.base import Contract, Payload
from schemas.fields import (
    Id,
    NonNegativeCount,
    Quantity,
    ReasonCode,
    Sku,
    StockDelta,
    StockLevel,
)
from schemas.orders import MAX_ORDER_LINES


class StockLine(Contract):
    """A quantity of one SKU, as reserved for or released from an order."""

    sku: Sku
    quantity: Quantity


StockLines = Annotated[tuple[StockLine, ...], Field(min_length=1, max_length=MAX_ORDER_LINES)]


class StockReceived(Payload):
    """A delivery of one SKU arrived at a store."""

    EVENT_TYPE = "stock.received"
    EVENT_VERSION = 1

    store_id: Id
    sku: Sku
    quantity: Quantity


class StockAdjusted(Payload):
    """Someone corrected a store's count of one SKU, up or down, with a reason code."""

    EVENT_TYPE = "stock.adjusted"
    EVENT_VERSION = 1

    store_id: Id
    sku: Sku
    delta: StockDelta
    reason: ReasonCode = Field(examples=["damaged", "count_correction"])

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, delta: int) -> int:
        # An adjustment of zero records nothing and would only add noise downstream.
        if delta == 0:
            raise ValueError("delta must not be zero")
        return delta


class StockReserved(Payload):
    """The inventory processor set stock aside for an order."""

    EVENT_TYPE = "stock.reserved"
    EVENT_VERSION = 1

    store_id: Id
    order_id: Id
    lines: StockLines


class StockReleased(Payload):
    """The inventory processor gave back stock it had reserved for an order."""

    EVENT_TYPE = "stock.released"
    EVENT_VERSION = 1

    store_id: Id
    order_id: Id
    lines: StockLines
    reason: ReasonCode = Field(examples=["order_cancelled", "order_rejected"])


class StockLow(Payload):
    """A SKU's available stock at a store fell to or below its alert threshold."""

    EVENT_TYPE = "stock.low"
    EVENT_VERSION = 1

    store_id: Id
    sku: Sku
    available: StockLevel
    threshold: NonNegativeCount
