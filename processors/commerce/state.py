"""The in-memory slice of commerce state that one batch of events reads and changes.

The repository loads it from PostgreSQL (rows locked for the transaction), the pure
handlers in :mod:`processors.commerce.logic` change it, and the repository writes the
changes back in the same transaction. Tests build it by hand: no database needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

from schemas.wire import Encoded

StockKey = tuple[str, str]  # (store_id, sku)


@dataclass
class Level:
    """Stock of one SKU at one store."""

    on_hand: int = 0
    reserved: int = 0
    low: bool = False  # below its threshold since the last alert

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class OrderLineRecord(NamedTuple):
    """One order line (a row of ``order_lines`` after its order id).

    The immutable records here are named tuples, not frozen dataclasses: a frozen
    dataclass sets each field through ``object.__setattr__`` (~6 records per order),
    and a tuple in its table's column order is what :mod:`processors.commerce.writes`
    copies to PostgreSQL as it is."""

    line_no: int
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass
class OrderRecord:
    order_id: str
    store_id: str
    customer_id: str
    status: str  # confirmed | rejected | cancelled
    reject_reason: str | None
    total: Decimal
    currency: str
    placed_at: datetime
    updated_at: datetime
    placed_event_id: UUID
    lines: tuple[OrderLineRecord, ...] = ()


class StatusChange(NamedTuple):
    """A row of ``order_status_history``, in its column order."""

    order_id: str
    status: str
    reason: str | None
    event_id: UUID
    at: datetime


# Ledger movement ids, derived from their cause so a replay cannot move stock twice: the
# one place they are built (the logic writes them, the repository looks them up).
def reserve_id(order_id: str, sku: str) -> str:
    return f"reserve:{order_id}:{sku}"


def release_id(order_id: str, sku: str) -> str:
    return f"release:{order_id}:{sku}"


def received_id(event_id: UUID) -> str:
    return f"recv:{event_id}"


def adjusted_id(event_id: UUID) -> str:
    return f"adj:{event_id}"


class Movement(NamedTuple):
    """One ledger entry (a row of ``inventory_movements``, in its column order); its id
    is derived from the cause so it is applied once. Built with named fields."""

    movement_id: str
    store_id: str
    sku: str
    kind: str  # received | adjusted | reserved | released
    on_hand_delta: int
    reserved_delta: int
    order_id: str | None
    event_id: UUID
    reason: str | None
    at: datetime


@dataclass
class CommerceState:
    """What the handlers may read; loaded per batch, never global."""

    levels: dict[StockKey, Level] = field(default_factory=dict)
    thresholds: dict[str, int] = field(default_factory=dict)
    default_threshold: int = 5
    known_customers: set[str] = field(default_factory=set)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    applied_movements: set[str] = field(default_factory=set)

    def level(self, store_id: str, sku: str) -> Level:
        level = self.levels.get((store_id, sku))
        if level is None:  # not setdefault: that built a Level on every call
            level = self.levels[(store_id, sku)] = Level()
        return level

    def threshold(self, sku: str) -> int:
        return self.thresholds.get(sku, self.default_threshold)


@dataclass
class Effects:
    """What a batch changed: rows to write and events to emit (in order)."""

    new_orders: list[OrderRecord] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)
    changed_orders: dict[str, OrderRecord] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    changed_levels: dict[StockKey, Level] = field(default_factory=dict)
    emitted: list[Encoded] = field(default_factory=list)  # in their wire form
    level_times: dict[StockKey, datetime] = field(default_factory=dict)
