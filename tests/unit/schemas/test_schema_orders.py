from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    MAX_ORDER_LINES,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    OrderRejected,
)

pytestmark = pytest.mark.unit


def test_order_placed_accepts_a_valid_order(order_placed_data: dict[str, Any]) -> None:
    order = OrderPlaced.model_validate(order_placed_data)
    assert order.lines[0].unit_price == Decimal("9.99")
    assert isinstance(order.lines, tuple)


def test_models_are_frozen(order_placed: OrderPlaced) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        order_placed.order_id = "other"  # type: ignore[misc]


def test_unknown_fields_are_refused(order_placed_data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        OrderPlaced.model_validate({**order_placed_data, "coupon": "X"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", 0),
        ("quantity", -1),
        ("quantity", "2"),
        ("quantity", 2.0),
        ("quantity", True),
        ("quantity", 1_000_001),
        ("unit_price", Decimal("-0.01")),
        ("unit_price", Decimal("1.001")),
        ("unit_price", "abc"),
        ("unit_price", Decimal("12345678901.00")),
        ("currency", "eur"),
        ("currency", "EURO"),
        ("currency", "E1R"),
        ("sku", ""),
        ("sku", "has space"),
        ("sku", "x" * 65),
        ("sku", 123),
    ],
)
def test_order_line_refuses(order_line_data: dict[str, Any], field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        OrderLine.model_validate({**order_line_data, field: value})
    assert info.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("given", "stored"),
    [("10", "10.00"), ("1E+1", "10.00"), ("9.990", "9.99"), (0.1, "0.10"), ("0", "0.00")],
)
def test_unit_price_is_stored_in_cents(
    order_line_data: dict[str, Any], given: object, stored: str
) -> None:
    line = OrderLine.model_validate({**order_line_data, "unit_price": given})
    assert str(line.unit_price) == stored


@pytest.mark.parametrize("lines", [[], None, "SKU-1"])
def test_order_needs_one_or_more_lines(order_placed_data: dict[str, Any], lines: object) -> None:
    with pytest.raises(ValidationError):
        OrderPlaced.model_validate({**order_placed_data, "lines": lines})


def test_order_lines_are_bounded(
    order_placed_data: dict[str, Any], order_line_data: dict[str, Any]
) -> None:
    OrderPlaced.model_validate({**order_placed_data, "lines": [order_line_data] * MAX_ORDER_LINES})
    with pytest.raises(ValidationError, match="at most 100"):
        OrderPlaced.model_validate(
            {**order_placed_data, "lines": [order_line_data] * (MAX_ORDER_LINES + 1)}
        )


def test_order_lines_share_one_currency(
    order_placed_data: dict[str, Any], order_line_data: dict[str, Any]
) -> None:
    usd = {**order_line_data, "currency": "USD"}
    with pytest.raises(ValidationError, match="one currency"):
        OrderPlaced.model_validate({**order_placed_data, "lines": [order_line_data, usd]})


@pytest.mark.parametrize("field", ["order_id", "customer_id", "store_id"])
@pytest.mark.parametrize("value", ["", "a/b", "a b", "x" * 65, None, 7])
def test_order_ids_follow_the_id_pattern(
    order_placed_data: dict[str, Any], field: str, value: object
) -> None:
    with pytest.raises(ValidationError):
        OrderPlaced.model_validate({**order_placed_data, field: value})


def test_order_cancelled_reason_is_optional() -> None:
    assert OrderCancelled(order_id="o", store_id="s").reason is None
    assert OrderCancelled(order_id="o", store_id="s", reason="changed mind").reason
    with pytest.raises(ValidationError):
        OrderCancelled(order_id="o", store_id="s", reason="")
    with pytest.raises(ValidationError):
        OrderCancelled(order_id="o", store_id="s", reason="x" * 501)


def test_order_confirmed_carries_an_exact_total() -> None:
    confirmed = OrderConfirmed(
        order_id="o", customer_id="c", store_id="s", total=Decimal("1234.50"), currency="GBP"
    )
    assert confirmed.total == Decimal("1234.50")
    for total in (Decimal("-1"), Decimal("0.001")):
        with pytest.raises(ValidationError):
            OrderConfirmed(order_id="o", customer_id="c", store_id="s", total=total, currency="GBP")


@pytest.mark.parametrize("reason", ["out_of_stock", "unknown_customer", "invalid"])
def test_order_rejected_accepts_each_reason(reason: str) -> None:
    rejected = OrderRejected.model_validate(
        {"order_id": "o", "store_id": "s", "customer_id": "c", "reason": reason}
    )
    assert rejected.detail is None


@pytest.mark.parametrize("reason", ["OUT_OF_STOCK", "fraud", "", None])
def test_order_rejected_refuses_other_reasons(reason: object) -> None:
    with pytest.raises(ValidationError):
        OrderRejected.model_validate(
            {"order_id": "o", "store_id": "s", "customer_id": "c", "reason": reason}
        )
