from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas import (
    DeliveryAssigned,
    GeoPoint,
    OrderConfirmed,
    OrderPlaced,
    SchemaError,
    ShopperOnline,
    decode,
    encode,
    new_event,
)

pytestmark = pytest.mark.unit


def confirmed(**extra: object) -> OrderConfirmed:
    return OrderConfirmed(
        order_id="o-1",
        customer_id="c-1",
        store_id="s-1",
        total=Decimal("3"),
        currency="EUR",
        **extra,
    )


def test_an_order_without_a_location_encodes_as_before() -> None:
    # Older consumers refuse unknown keys: the absent location must not appear as null.
    body = json.loads(encode(new_event(confirmed(), source="t"))[0])
    assert "delivery_location" not in body["payload"]
    placed = OrderPlaced.model_validate(
        {
            "order_id": "o",
            "customer_id": "c",
            "store_id": "s",
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "1", "currency": "EUR"}],
        }
    )
    assert (
        "delivery_location" not in json.loads(encode(new_event(placed, source="t"))[0])["payload"]
    )


def test_a_location_travels_and_comes_back() -> None:
    event = new_event(confirmed(delivery_location=GeoPoint(lat=52.37, lon=4.89)), source="t")
    value, headers = encode(event)
    back = decode(value, headers)
    assert back.payload.delivery_location == GeoPoint(lat=52.37, lon=4.89)


def test_a_location_off_the_globe_is_refused_with_its_field() -> None:
    event = new_event(confirmed(), source="t")
    body = json.loads(encode(event)[0])
    body["payload"]["delivery_location"] = {"lat": 4.89, "lon": 252.37}
    with pytest.raises(SchemaError, match=r"payload\.delivery_location\.lon"):
        decode(json.dumps(body).encode())


def test_shopper_capacity_is_bounded() -> None:
    with pytest.raises(ValidationError, match="capacity"):
        ShopperOnline(shopper_id="sh", store_id="s", position=GeoPoint(lat=0, lon=0), capacity=0)


def test_delivery_assigned_needs_a_timezone_and_a_route() -> None:
    stop = {"kind": "pickup", "position": {"lat": 0, "lon": 0}}
    drop = {"kind": "dropoff", "position": {"lat": 0, "lon": 0.01}, "order_id": "o-1"}
    ok = DeliveryAssigned.model_validate(
        {
            "delivery_id": "d-1",
            "shopper_id": "sh",
            "store_id": "s",
            "order_ids": ["o-1"],
            "route": [stop, drop],
            "distance_m": 1100.0,
            "eta": datetime(2026, 1, 1, tzinfo=UTC),
        }
    )
    assert ok.route[1].order_id == "o-1"
    with pytest.raises(ValidationError, match="eta"):
        DeliveryAssigned.model_validate({**ok.model_dump(), "eta": datetime(2026, 1, 1)})
    with pytest.raises(ValidationError, match="route"):
        DeliveryAssigned.model_validate({**ok.model_dump(), "route": [stop]})
