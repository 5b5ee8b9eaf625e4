"""Valid payloads as plain data: each test breaks exactly one thing in a copy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from schemas import OrderLine, OrderPlaced, PlaybackHeartbeat


@pytest.fixture
def order_line_data() -> dict[str, Any]:
    return {"sku": "SKU-1", "quantity": 2, "unit_price": Decimal("9.99"), "currency": "EUR"}


@pytest.fixture
def order_placed_data(order_line_data: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": "o-1",
        "customer_id": "c-1",
        "store_id": "store_7",
        "lines": [order_line_data],
    }


@pytest.fixture
def order_placed(order_placed_data: dict[str, Any]) -> OrderPlaced:
    return OrderPlaced.model_validate(order_placed_data)


@pytest.fixture
def playback_data() -> dict[str, Any]:
    return {
        "session_id": "sess-1",
        "user_id": "u-1",
        "title_id": "t-1",
        "position_s": 12.5,
        "context": {"device": {"os": "tvOS", "model": "AppleTV6,2"}, "bitrate_kbps": 4800},
    }


@pytest.fixture
def heartbeat(playback_data: dict[str, Any]) -> PlaybackHeartbeat:
    return PlaybackHeartbeat.model_validate(playback_data)


@pytest.fixture
def line() -> OrderLine:
    return OrderLine(sku="A", quantity=1, unit_price=Decimal("1.00"), currency="USD")
