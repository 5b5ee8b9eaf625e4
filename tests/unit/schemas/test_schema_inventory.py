from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas import StockAdjusted, StockLow, StockReceived, StockReleased, StockReserved

pytestmark = pytest.mark.unit

LINES = [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 3}]


def test_stock_received() -> None:
    assert StockReceived(store_id="s", sku="A", quantity=5).quantity == 5


@pytest.mark.parametrize("quantity", [0, -3, "5", 5.0, None])
def test_stock_received_refuses_bad_quantities(quantity: object) -> None:
    with pytest.raises(ValidationError):
        StockReceived.model_validate({"store_id": "s", "sku": "A", "quantity": quantity})


@pytest.mark.parametrize("delta", [-4, 1, 1_000_000])
def test_stock_adjusted_accepts_signed_deltas(delta: int) -> None:
    adjusted = StockAdjusted(store_id="s", sku="A", delta=delta, reason="count_correction")
    assert adjusted.delta == delta


@pytest.mark.parametrize("delta", [0, "1", 1.5, 1_000_001])
def test_stock_adjusted_refuses_bad_deltas(delta: object) -> None:
    with pytest.raises(ValidationError) as info:
        StockAdjusted.model_validate({"store_id": "s", "sku": "A", "delta": delta, "reason": "x"})
    assert info.value.errors()[0]["loc"] == ("delta",)


def test_stock_adjusted_zero_delta_message() -> None:
    with pytest.raises(ValidationError, match="delta must not be zero"):
        StockAdjusted(store_id="s", sku="A", delta=0, reason="damaged")


@pytest.mark.parametrize("reason", ["", "Damaged", "count correction", "1st", None])
def test_stock_adjusted_reason_is_a_code(reason: object) -> None:
    with pytest.raises(ValidationError):
        StockAdjusted.model_validate({"store_id": "s", "sku": "A", "delta": 1, "reason": reason})


def test_stock_reserved_and_released() -> None:
    reserved = StockReserved.model_validate({"store_id": "s", "order_id": "o", "lines": LINES})
    assert [line.quantity for line in reserved.lines] == [1, 3]
    released = StockReleased.model_validate(
        {"store_id": "s", "order_id": "o", "lines": LINES, "reason": "order_cancelled"}
    )
    assert released.reason == "order_cancelled"


@pytest.mark.parametrize(
    "lines",
    [[], [{"sku": "A", "quantity": 0}], [{"sku": "A"}], [{"sku": "A", "quantity": 1, "x": 1}]],
)
def test_stock_reserved_refuses_bad_lines(lines: Any) -> None:
    with pytest.raises(ValidationError):
        StockReserved.model_validate({"store_id": "s", "order_id": "o", "lines": lines})


def test_stock_released_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="reason"):
        StockReleased.model_validate({"store_id": "s", "order_id": "o", "lines": LINES})


def test_stock_low_allows_an_oversold_reading() -> None:
    assert StockLow(store_id="s", sku="A", available=-2, threshold=5).available == -2


@pytest.mark.parametrize(("available", "threshold"), [(1, -1), ("1", 5), (1, 2.5)])
def test_stock_low_refuses(available: object, threshold: object) -> None:
    with pytest.raises(ValidationError):
        StockLow.model_validate(
            {"store_id": "s", "sku": "A", "available": available, "threshold": threshold}
        )
