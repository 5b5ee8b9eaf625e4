"""The pure order and inventory decisions, with no Kafka and no database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from processors.commerce.logic import NAMESPACE, apply, derived_id
from processors.commerce.state import CommerceState, Effects
from schemas import (
    Envelope,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    StockAdjusted,
    StockLine,
    StockReceived,
    StockReleased,
    StockReserved,
    decode,
    encode,
    new_event,
)
from schemas.fields import MAX_QUANTITY

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 1, tzinfo=UTC)
_clock = iter(range(1_000_000))


def ev(payload: Any) -> Envelope[Any]:
    return new_event(payload, source="test", occurred_at=T0 + timedelta(seconds=next(_clock)))


def placed(
    order_id: str, *lines: tuple[str, int], customer: str = "c1", store: str = "s1"
) -> Envelope[Any]:
    return ev(
        OrderPlaced(
            order_id=order_id,
            customer_id=customer,
            store_id=store,
            lines=tuple(
                OrderLine(sku=sku, quantity=q, unit_price=Decimal("2.50"), currency="EUR")
                for sku, q in lines
            ),
        )
    )


def received(sku: str, qty: int, store: str = "s1") -> Envelope[Any]:
    return ev(StockReceived(store_id=store, sku=sku, quantity=qty))


def types(effects: Effects) -> list[str]:
    return [e.type for e in effects.emitted]


@pytest.fixture
def state() -> CommerceState:
    return CommerceState(known_customers={"c1", "c2"}, default_threshold=2)


def test_order_in_stock_is_confirmed_and_reserved(state: CommerceState) -> None:
    apply(state, [received("apple", 10), received("pear", 3)])
    fx = apply(state, [placed("o1", ("apple", 2), ("pear", 1), ("apple", 1))])
    assert types(fx) == ["stock.reserved", "order.confirmed"]
    assert state.level("s1", "apple").reserved == 3
    assert state.level("s1", "pear").reserved == 1
    order = state.orders["o1"]
    assert order.status == "confirmed"
    assert order.total == Decimal("10.00")
    assert [m.movement_id for m in fx.movements] == ["reserve:o1:apple", "reserve:o1:pear"]


def test_out_of_stock_rejects_and_reserves_nothing(state: CommerceState) -> None:
    apply(state, [received("apple", 10), received("pear", 1)])
    fx = apply(state, [placed("o1", ("apple", 2), ("pear", 2))])
    assert types(fx) == ["order.rejected"]
    assert fx.emitted[0].payload.reason == "out_of_stock"
    assert state.level("s1", "apple").reserved == 0
    assert fx.movements == []


def test_unknown_customer_is_rejected_before_stock(state: CommerceState) -> None:
    apply(state, [received("apple", 10)])
    fx = apply(state, [placed("o1", ("apple", 1), customer="stranger")])
    assert fx.emitted[0].payload.reason == "unknown_customer"
    assert state.level("s1", "apple").reserved == 0


def test_interleaved_orders_never_oversell_the_last_unit(state: CommerceState) -> None:
    apply(state, [received("apple", 3)])
    orders = [placed(f"o{i}", ("apple", 1), customer="c1" if i % 2 else "c2") for i in range(6)]
    fx = apply(state, orders)
    statuses = [state.orders[f"o{i}"].status for i in range(6)]
    assert statuses.count("confirmed") == 3
    assert statuses[3:] == ["rejected"] * 3  # partition order decides who gets the last unit
    level = state.level("s1", "apple")
    assert (level.on_hand, level.reserved) == (3, 3)
    assert sum(m.reserved_delta for m in fx.movements) == 3


def test_cancel_releases_a_confirmed_order_once(state: CommerceState) -> None:
    apply(state, [received("apple", 5)])
    apply(state, [placed("o1", ("apple", 4))])
    cancel = ev(OrderCancelled(order_id="o1", store_id="s1"))
    fx = apply(state, [cancel])
    assert types(fx) == ["stock.released"]
    assert state.level("s1", "apple").reserved == 0
    assert state.orders["o1"].status == "cancelled"
    again = apply(state, [ev(OrderCancelled(order_id="o1", store_id="s1"))])
    assert again.emitted == [] and again.movements == []


def test_cancel_of_unknown_or_rejected_order_changes_nothing(state: CommerceState) -> None:
    apply(state, [received("apple", 1)])
    apply(state, [placed("o1", ("apple", 5))])  # rejected
    fx = apply(
        state,
        [
            ev(OrderCancelled(order_id="o1", store_id="s1")),
            ev(OrderCancelled(order_id="nope", store_id="s1")),
        ],
    )
    assert fx.emitted == [] and fx.movements == [] and fx.status_changes == []
    assert state.orders["o1"].status == "rejected"


def test_low_stock_alert_fires_once_per_crossing(state: CommerceState) -> None:
    apply(state, [received("apple", 5)])  # threshold 2: available 5
    fx = apply(
        state, [placed("o1", ("apple", 2)), placed("o2", ("apple", 2)), placed("o3", ("apple", 1))]
    )
    assert types(fx).count("stock.low") == 1  # 5 -> 3 -> 1 (crossed) -> 0 (still low)
    low = next(e for e in fx.emitted if e.type == "stock.low")
    assert (low.payload.available, low.payload.threshold) == (1, 2)
    restock = apply(state, [received("apple", 10)])  # back above: no alert, re-armed
    assert "stock.low" not in types(restock)
    again = apply(state, [placed("o4", ("apple", 10))])
    assert types(again).count("stock.low") == 1


def test_replayed_events_change_nothing(state: CommerceState) -> None:
    stock = received("apple", 5)
    order = placed("o1", ("apple", 2))
    first = apply(state, [stock, order])
    snapshot = (dict(state.levels), {k: v.status for k, v in state.orders.items()})
    again = apply(state, [stock, order])  # same event ids: ledger ids and order id repeat
    assert again.movements == [] and again.emitted == []
    assert (dict(state.levels), {k: v.status for k, v in state.orders.items()}) == snapshot
    assert len(first.emitted) == 2


def test_emitted_ids_are_derived_from_the_cause() -> None:
    order = placed("o1", ("apple", 1))
    a = apply(CommerceState(known_customers={"c1"}, levels={}), [received("apple", 3), order])
    b = apply(CommerceState(known_customers={"c1"}, levels={}), [received("apple", 3), order])
    ids_a = [e.event_id for e in a.emitted if e.type != "stock.low"]
    ids_b = [e.event_id for e in b.emitted if e.type != "stock.low"]
    assert ids_a == ids_b and len(ids_a) == 2


def test_reservation_events_from_the_order_processor_are_not_applied_twice(
    state: CommerceState,
) -> None:
    apply(state, [received("apple", 5)])
    fx = apply(state, [placed("o1", ("apple", 2))])
    emitted = next(e for e in fx.emitted if e.type == "stock.reserved")
    reserved = decode(emitted.value, emitted.headers)  # as the inventory worker sees it
    assert apply(state, [reserved]).movements == []
    assert state.level("s1", "apple").reserved == 2


def test_external_reserve_and_release(state: CommerceState) -> None:
    apply(state, [received("apple", 5)])
    apply(
        state,
        [
            ev(
                StockReserved(
                    store_id="s1", order_id="x", lines=(StockLine(sku="apple", quantity=3),)
                )
            )
        ],
    )
    assert state.level("s1", "apple").reserved == 3
    apply(
        state,
        [
            ev(
                StockReleased(
                    store_id="s1",
                    order_id="x",
                    reason="expired",
                    lines=(StockLine(sku="apple", quantity=3),),
                )
            )
        ],
    )
    assert state.level("s1", "apple").reserved == 0


def test_adjustment_never_drops_stock_below_reserved(state: CommerceState) -> None:
    apply(state, [received("apple", 5), placed("o1", ("apple", 4))])
    fx = apply(state, [ev(StockAdjusted(store_id="s1", sku="apple", delta=-3, reason="damaged"))])
    level = state.level("s1", "apple")
    assert (level.on_hand, level.reserved) == (4, 4)
    assert fx.movements[0].on_hand_delta == -1
    assert "clamped" in (fx.movements[0].reason or "")


def test_ledger_sums_equal_levels(state: CommerceState) -> None:
    events = [
        received("apple", 7),
        received("pear", 2),
        placed("o1", ("apple", 3)),
        placed("o2", ("pear", 5)),
        ev(StockAdjusted(store_id="s1", sku="apple", delta=2, reason="count")),
        ev(OrderCancelled(order_id="o1", store_id="s1")),
        placed("o3", ("apple", 9)),
    ]
    fx = apply(state, events)
    for (store, sku), level in state.levels.items():
        moves = [m for m in fx.movements if (m.store_id, m.sku) == (store, sku)]
        assert sum(m.on_hand_delta for m in moves) == level.on_hand
        assert sum(m.reserved_delta for m in moves) == level.reserved
        assert 0 <= level.reserved <= level.on_hand


# --- what the handlers compute is checked against the contracts' bounds -------------------
# (emitted payloads are encoded without validation: schemas.wire.encode_trusted)


def test_derived_ids_are_uuid5_of_the_cause_and_what() -> None:
    cause = uuid.uuid4()
    for what in ("order.confirmed", "stock.low:s1:apple", "é"):
        expected = uuid.uuid5(NAMESPACE, f"{cause}:{what}")
        assert derived_id(cause, what) == expected == derived_id(str(cause), what)
        assert derived_id(cause, what).version == 5


def test_a_summed_quantity_over_the_contracts_bound_fails_the_event(
    state: CommerceState,
) -> None:
    state.level("s1", "apple").on_hand = 3 * MAX_QUANTITY
    half = MAX_QUANTITY // 2 + 1
    with pytest.raises(ValueError, match="order o1: apple quantity 1000002 is outside"):
        apply(state, [placed("o1", ("apple", half), ("apple", half))])


def test_a_total_over_the_contracts_amounts_fails_the_event(state: CommerceState) -> None:
    state.level("s1", "gold").on_hand = MAX_QUANTITY
    order = OrderPlaced(
        order_id="o1",
        customer_id="c1",
        store_id="s1",
        lines=(
            OrderLine(
                sku="gold", quantity=MAX_QUANTITY, unit_price=Decimal("9999999.99"), currency="EUR"
            ),
        ),
    )
    with pytest.raises(ValueError, match=r"order o1: total \S+ exceeds the contract's amounts"):
        apply(state, [ev(order)])
    assert state.level("s1", "gold").reserved == 0  # checked before anything moved


def test_a_threshold_over_the_contracts_bound_fails_the_event(state: CommerceState) -> None:
    state.thresholds["apple"] = MAX_QUANTITY + 1
    with pytest.raises(ValueError, match="low-stock threshold 1000001 is outside"):
        apply(state, [received("apple", 1)])


def test_every_emitted_event_keeps_its_contract(state: CommerceState) -> None:
    apply(state, [received("apple", 3), received("pear", 9)])
    events = [
        placed("o1", ("apple", 2), ("pear", 1), ("apple", 1)),
        placed("o2", ("apple", 5)),
        placed("o3", ("pear", 1), customer="nobody"),
        ev(OrderCancelled(order_id="o1", store_id="s1", reason="changed my mind")),
    ]
    fx = apply(state, events)
    assert types(fx) == [
        "stock.low",
        "stock.reserved",
        "order.confirmed",
        "order.rejected",
        "order.rejected",
        "stock.released",
    ]
    for e in fx.emitted:
        env = decode(e.value, e.headers)  # parses and validates against the contract
        assert encode(env) == (e.value, e.headers)
