"""``encode_event`` writes what ``encode(new_event(...))`` writes, byte for byte.

The workers emit through it (no envelope model built), so the contract of what they
publish rests on this equality, for every event type they emit and every type the
simulator writes.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from processors.commerce.logic import apply
from processors.commerce.state import CommerceState
from producers.simulators.simulation import Simulation
from schemas import Envelope, decode, encode
from schemas.wire import Encoded, encode_event
from tests.unit.producers.test_sim_shoppers import trip

pytestmark = pytest.mark.unit
TRACEPARENT = f"00-{'a' * 32}-{'b' * 16}-01"


def same(env: Envelope[Any], **fields: Any) -> None:
    fast = encode_event(
        env.payload,
        event_id=env.event_id,
        occurred_at=env.occurred_at,
        source=env.source,
        correlation_id=env.correlation_id,
        traceparent=env.traceparent,
    )
    assert (fast.value, fast.headers) == encode(env), env.type
    assert (fast.event_id, fast.type, fast.key, fast.traceparent) == (
        env.event_id,
        env.type,
        env.key,
        env.traceparent,
    )


def workload() -> list[Envelope[Any]]:
    sim = Simulation(7, {"orders": 1, "inventory": 1, "viewing": 1})
    return [*sim.initial_stock(), *itertools.islice(sim.events(), 3_000)]


def test_every_simulated_type_with_and_without_trace_and_correlation() -> None:
    events = workload()
    assert len({e.type for e in events}) >= 8
    for env in events:
        same(env)
        same(env.model_copy(update={"traceparent": TRACEPARENT, "correlation_id": "req-1"}))


def test_every_type_the_order_and_inventory_workers_emit() -> None:
    events = workload()
    commerce = [e for e in events if e.type.startswith(("order.", "stock."))]
    # Half the customers unknown: rejections as well as confirmations.
    customers = {e.payload.customer_id for e in commerce if e.type == "order.placed"}
    state = CommerceState(known_customers=set(sorted(customers)[::2]))
    emitted: list[Encoded] = apply(state, commerce).emitted
    assert {e.type for e in emitted} >= {
        "order.confirmed",
        "order.rejected",
        "stock.reserved",
        "stock.released",
        "stock.low",
    }
    for e in emitted:
        env = decode(e.value, e.headers)  # the contract holds: it parses and validates
        assert encode(env) == (e.value, e.headers)
        assert (env.event_id, env.type, env.key, env.traceparent) == (
            e.event_id,
            e.type,
            e.key,
            e.traceparent,
        )
        assert env.payload == e.payload


def test_a_delivery_assigned() -> None:
    payload = trip("sh-1", [(52.36, 4.88), (52.38, 4.9)])
    at = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    fast = encode_event(payload, event_id=uuid.uuid4(), occurred_at=at, source="riverbed.dispatch")
    assert (fast.value, fast.headers) == encode(decode(fast.value, fast.headers))


@pytest.mark.parametrize(
    "at", [datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))]
)
def test_a_time_that_is_not_utc_is_refused(at: datetime) -> None:
    payload = trip("sh-1", [(52.36, 4.88)])
    with pytest.raises(ValueError, match="must be UTC"):
        encode_event(payload, event_id=uuid.uuid4(), occurred_at=at, source="riverbed.dispatch")
