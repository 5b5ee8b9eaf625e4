"""Pure decision logic for orders and inventory: no Kafka, no database.

Every handler takes the batch's :class:`CommerceState`, one event and the batch's
:class:`Effects`, and is **idempotent by construction**: ledger entries carry ids derived
from their cause (``reserve:<order>:<sku>``, ``recv:<event id>``), orders are keyed by
order id, and emitted events get ids derived from the event that caused them, so a
replayed event changes nothing and re-emits byte-identical events.

Emits: ``order.confirmed``/``order.rejected`` and ``stock.reserved`` for
``order.placed``; ``stock.released`` for the cancellation of a confirmed order;
``stock.low`` whenever available stock crosses below its threshold.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from processors.commerce.state import (
    CommerceState,
    Effects,
    Movement,
    OrderLineRecord,
    OrderRecord,
    StatusChange,
    adjusted_id,
    received_id,
    release_id,
    reserve_id,
)
from schemas import (
    Envelope,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    Payload,
    StockAdjusted,
    StockLow,
    StockReceived,
    StockReleased,
    StockReserved,
)
from schemas.fields import AMOUNT_LIMIT, MAX_QUANTITY
from schemas.wire import encode_trusted

SOURCE = "riverbed.processors.commerce"
# Emitted events whose ledger movements the emitting handler applied itself (in the same
# transaction): consumers of the same state must not apply them again.
APPLIED_WHEN_EMITTED = frozenset({StockReserved.EVENT_TYPE, StockReleased.EVENT_TYPE})
NAMESPACE = uuid.UUID("5b1e43a0-3c41-4c55-9d0a-5d1f2b7c9e10")
_NAMESPACE_BYTES = NAMESPACE.bytes
CENT = Decimal("0.01")


def derived_id(cause: uuid.UUID | str, what: str) -> uuid.UUID:
    """A stable id for an event emitted because of ``cause``: replays emit the same id.

    ``uuid5(NAMESPACE, f"{cause}:{what}")``, hashed as ``uuid.uuid5`` does, without its
    call layers (``uuid5`` was 6 % of the orders worker's CPU, py-spy, 30,000 events).
    """
    name = _NAMESPACE_BYTES + f"{cause}:{what}".encode()
    digest = hashlib.sha1(name, usedforsecurity=False).digest()  # an id, not a secret
    return uuid.UUID(bytes=digest[:16], version=5)


def _emit(
    effects: Effects,
    cause: Envelope[Any],
    cause_id: str,
    payload_type: type[Payload],
    fields: dict[str, Any],
    what: str,
) -> None:
    """Emit ``payload_type(**fields)`` because of ``cause`` (whose id is ``cause_id``).

    Encoded here, once, from ``fields`` without validating them
    (``schemas.wire.encode_trusted``): each is copied from a validated event or a stored
    row, except what the handlers compute (totals, summed quantities, stock levels),
    which they check against the contract's bounds before emitting (:func:`_bounded`).
    """
    effects.emitted.append(
        encode_trusted(
            payload_type,
            fields,
            event_id=derived_id(cause_id, what),
            occurred_at=cause.occurred_at,
            source=SOURCE,
            correlation_id=cause.correlation_id or cause_id,
            traceparent=cause.traceparent,
        )
    )


def _bounded(value: int, low: int, high: int, what: str) -> int:
    """``value`` if the contract allows it; else the event fails (and is dead-lettered
    with this reason) instead of emitting a payload that breaks its contract."""
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is outside the contract's bounds [{low}, {high}]")
    return value


def _move(state: CommerceState, effects: Effects, cause: Envelope[Any], movement: Movement) -> bool:
    """Apply a ledger movement once; False when it was applied before."""
    if movement.movement_id in state.applied_movements:
        return False
    key = (movement.store_id, movement.sku)
    level = state.level(*key)
    level.on_hand += movement.on_hand_delta
    level.reserved += movement.reserved_delta
    state.applied_movements.add(movement.movement_id)
    effects.movements.append(movement)
    effects.changed_levels[key] = level
    effects.level_times[key] = movement.at
    _check_low(state, effects, cause, movement.store_id, movement.sku)
    return True


def _check_low(
    state: CommerceState, effects: Effects, cause: Envelope[Any], store_id: str, sku: str
) -> None:
    """Emit ``stock.low`` once per crossing below the threshold, not on every change."""
    level = state.level(store_id, sku)
    threshold = state.threshold(sku)
    available = level.available
    now_low = available < threshold
    if now_low and not level.low:
        _emit(
            effects,
            cause,
            str(cause.event_id),
            StockLow,
            {
                "store_id": store_id,
                "sku": sku,
                "available": _bounded(available, -MAX_QUANTITY, MAX_QUANTITY, "available stock"),
                "threshold": _bounded(threshold, 0, MAX_QUANTITY, "low-stock threshold"),
            },
            f"stock.low:{store_id}:{sku}",
        )
    level.low = now_low


def _quantities(lines: tuple[Any, ...]) -> dict[str, int]:
    """Quantity per SKU, in SKU order."""
    wanted: dict[str, int] = {}
    for line in lines:
        wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    return dict(sorted(wanted.items())) if len(wanted) > 1 else wanted


def _stock_lines(order_id: str, wanted: dict[str, int]) -> list[dict[str, Any]]:
    """The ``lines`` of a reservation or release: one per SKU, its quantity summed over
    the order's lines (so checked against the contract's bound here)."""
    return [
        {"sku": sku, "quantity": _bounded(q, 1, MAX_QUANTITY, f"order {order_id}: {sku} quantity")}
        for sku, q in wanted.items()
    ]


def on_order_placed(state: CommerceState, effects: Effects, event: Envelope[OrderPlaced]) -> None:
    """Confirm and reserve all lines, or reject (unknown customer, out of stock)."""
    order = event.payload
    if order.order_id in state.orders:  # the same order placed again: keep the first decision
        return
    at = event.occurred_at
    cause_id = str(event.event_id)
    total = Decimal(0)
    for line in order.lines:
        total += line.unit_price * line.quantity
    total = total.quantize(CENT)
    currency = order.lines[0].currency
    wanted = _quantities(order.lines)
    reason: str | None = None
    if order.customer_id not in state.known_customers:
        reason = "unknown_customer"
    elif any(state.level(order.store_id, sku).available < qty for sku, qty in wanted.items()):
        reason = "out_of_stock"

    record = OrderRecord(
        order_id=order.order_id,
        store_id=order.store_id,
        customer_id=order.customer_id,
        status="rejected" if reason else "confirmed",
        reject_reason=reason,
        total=total,
        currency=currency,
        placed_at=at,
        updated_at=at,
        placed_event_id=event.event_id,
        lines=tuple(
            OrderLineRecord(i, line.sku, line.quantity, line.unit_price)
            for i, line in enumerate(order.lines, start=1)
        ),
    )
    state.orders[order.order_id] = record
    effects.new_orders.append(record)
    effects.status_changes.append(
        StatusChange(order.order_id, record.status, reason, event.event_id, at)
    )
    if reason:
        _emit(
            effects,
            event,
            cause_id,
            OrderRejected,
            {
                "order_id": order.order_id,
                "store_id": order.store_id,
                "customer_id": order.customer_id,
                "reason": reason,
                "detail": None,
            },
            "order.rejected",
        )
        return
    if total >= AMOUNT_LIMIT:
        raise ValueError(f"order {order.order_id}: total {total} exceeds the contract's amounts")
    for sku, qty in wanted.items():
        _move(
            state,
            effects,
            event,
            Movement(
                movement_id=reserve_id(order.order_id, sku),
                store_id=order.store_id,
                sku=sku,
                kind="reserved",
                on_hand_delta=0,
                reserved_delta=qty,
                order_id=order.order_id,
                event_id=event.event_id,
                reason=None,
                at=at,
            ),
        )
    _emit(
        effects,
        event,
        cause_id,
        StockReserved,
        {
            "store_id": order.store_id,
            "order_id": order.order_id,
            "lines": _stock_lines(order.order_id, wanted),
        },
        "stock.reserved",
    )
    confirmed: dict[str, Any] = {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "store_id": order.store_id,
        "total": total,
        "currency": currency,
    }
    if order.delivery_location is not None:  # left out when absent, as the contract does
        confirmed["delivery_location"] = order.delivery_location
    _emit(effects, event, cause_id, OrderConfirmed, confirmed, "order.confirmed")


def on_order_cancelled(
    state: CommerceState, effects: Effects, event: Envelope[OrderCancelled]
) -> None:
    """Release a confirmed order's stock; unknown, rejected or cancelled orders: no change."""
    cancel = event.payload
    record = state.orders.get(cancel.order_id)
    if record is None or record.status != "confirmed" or record.store_id != cancel.store_id:
        return
    at = event.occurred_at
    record.status = "cancelled"
    record.updated_at = at
    effects.changed_orders[record.order_id] = record
    effects.status_changes.append(
        StatusChange(record.order_id, "cancelled", cancel.reason, event.event_id, at)
    )
    wanted = _quantities(record.lines)
    for sku, qty in wanted.items():
        _move(
            state,
            effects,
            event,
            Movement(
                movement_id=release_id(record.order_id, sku),
                store_id=record.store_id,
                sku=sku,
                kind="released",
                on_hand_delta=0,
                reserved_delta=-qty,
                order_id=record.order_id,
                event_id=event.event_id,
                reason="order_cancelled",
                at=at,
            ),
        )
    _emit(
        effects,
        event,
        str(event.event_id),
        StockReleased,
        {
            "store_id": record.store_id,
            "order_id": record.order_id,
            "lines": _stock_lines(record.order_id, wanted),
            "reason": "order_cancelled",
        },
        "stock.released",
    )


def on_stock_received(
    state: CommerceState, effects: Effects, event: Envelope[StockReceived]
) -> None:
    p = event.payload
    _move(
        state,
        effects,
        event,
        Movement(
            movement_id=received_id(event.event_id),
            store_id=p.store_id,
            sku=p.sku,
            kind="received",
            on_hand_delta=p.quantity,
            reserved_delta=0,
            order_id=None,
            event_id=event.event_id,
            reason=None,
            at=event.occurred_at,
        ),
    )


def on_stock_adjusted(
    state: CommerceState, effects: Effects, event: Envelope[StockAdjusted]
) -> None:
    """Apply a count correction; stock never drops below what is reserved (nor below 0)."""
    p = event.payload
    level = state.level(p.store_id, p.sku)
    delta = max(p.delta, level.reserved - level.on_hand)
    reason = p.reason if delta == p.delta else f"{p.reason} (clamped from {p.delta})"
    _move(
        state,
        effects,
        event,
        Movement(
            movement_id=adjusted_id(event.event_id),
            store_id=p.store_id,
            sku=p.sku,
            kind="adjusted",
            on_hand_delta=delta,
            reserved_delta=0,
            order_id=None,
            event_id=event.event_id,
            reason=reason,
            at=event.occurred_at,
        ),
    )


def on_stock_reserved(
    state: CommerceState, effects: Effects, event: Envelope[StockReserved]
) -> None:
    """A reservation made elsewhere; the order processor's own ones are already applied."""
    p = event.payload
    for line in p.lines:
        level = state.level(p.store_id, line.sku)
        qty = min(line.quantity, max(level.available, 0))
        _move(
            state,
            effects,
            event,
            Movement(
                movement_id=reserve_id(p.order_id, line.sku),
                store_id=p.store_id,
                sku=line.sku,
                kind="reserved",
                on_hand_delta=0,
                reserved_delta=qty,
                order_id=p.order_id,
                event_id=event.event_id,
                reason=None if qty == line.quantity else "partial",
                at=event.occurred_at,
            ),
        )


def on_stock_released(
    state: CommerceState, effects: Effects, event: Envelope[StockReleased]
) -> None:
    p = event.payload
    for line in p.lines:
        level = state.level(p.store_id, line.sku)
        qty = min(line.quantity, level.reserved)
        _move(
            state,
            effects,
            event,
            Movement(
                movement_id=release_id(p.order_id, line.sku),
                store_id=p.store_id,
                sku=line.sku,
                kind="released",
                on_hand_delta=0,
                reserved_delta=-qty,
                order_id=p.order_id,
                event_id=event.event_id,
                reason=p.reason,
                at=event.occurred_at,
            ),
        )


Handler = Callable[[CommerceState, Effects, Any], None]
HANDLERS: dict[str, Handler] = {
    "order.placed": on_order_placed,
    "order.cancelled": on_order_cancelled,
    "stock.received": on_stock_received,
    "stock.adjusted": on_stock_adjusted,
    "stock.reserved": on_stock_reserved,
    "stock.released": on_stock_released,
}


def apply(
    state: CommerceState, events: list[Envelope[Any]], effects: Effects | None = None
) -> Effects:
    """Apply events in order (one partition's order) and return what changed."""
    effects = effects or Effects()
    for event in events:
        handler = HANDLERS.get(event.type)
        if handler is not None:
            handler(state, effects, event)
    return effects
