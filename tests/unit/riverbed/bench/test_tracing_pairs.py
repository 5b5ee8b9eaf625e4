"""The tracing bench's figure: the pair of rounds with the median on/off ratio, and the
gateway-like traceparents it feeds (riverbed/bench/tracing.py)."""

from __future__ import annotations

import pytest

from core.tracing import is_sampled
from riverbed.bench.processors import commerce_workload
from riverbed.bench.tracing import median_pair, sampled_share, with_gateway_traceparents

pytestmark = pytest.mark.unit


def test_the_median_pair_is_one_measured_pair_not_a_sum() -> None:
    # (on, off) ev/s per pair; one pair hit by someone else's build (on at 500 ev/s)
    pairs = [(900.0, 1000.0), (500.0, 1000.0), (2000.0, 2100.0), (950.0, 1000.0)]
    # ratios 0.9, 0.5, 0.952, 0.95: the upper middle of four is 0.95
    assert median_pair(pairs) == (950.0, 1000.0)
    assert median_pair(pairs[:3]) == (900.0, 1000.0)  # 0.5, 0.9, 0.952
    assert median_pair([(1.0, 2.0)]) == (1.0, 2.0)


def test_the_events_carry_traces_sampled_at_the_ratio() -> None:
    _, events, _ = commerce_workload(4_000)
    traced = with_gateway_traceparents(events, 0.1)
    assert [e.event_id for e in traced] == [e.event_id for e in events]
    assert len({e.traceparent for e in traced}) == len(traced)  # a trace per request
    assert 0.08 < sampled_share(traced) < 0.12
    assert sampled_share(traced) == sum(map(is_sampled, (e.traceparent for e in traced))) / len(
        traced
    )
    assert with_gateway_traceparents(events, 0.1) == traced  # repeatable: same events A/B
