"""The dashboard reads retries and dead letters from a worker's Prometheus text."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest

from core.settings import Settings
from dashboard.sources.workers import WorkerMetricsSource, read_counters

pytestmark = pytest.mark.unit


def test_counters_are_summed_over_their_labels() -> None:
    registry = CollectorRegistry()
    retries = Counter("riverbed_retries_total", "r", ["worker", "cause"], registry=registry)
    dead = Counter("riverbed_dead_letters_total", "d", ["worker"], registry=registry)
    retries.labels("orders", "connection").inc(3)
    retries.labels("orders", "contention").inc(2)
    dead.labels("orders").inc()
    assert read_counters(generate_latest(registry).decode()) == {
        "retries": 5.0,
        "dead_letters": 1.0,
    }
    assert read_counters("") == {"retries": 0.0, "dead_letters": 0.0}


async def test_metrics_off_reads_nothing_and_a_silent_worker_is_unreachable() -> None:
    off = WorkerMetricsSource(Settings(_env_file=None))  # type: ignore[call-arg]
    assert off.urls == {} and await off.sample() == {"workers": {}}
    await off.close()
    # Ports nobody listens on: each kind answers as unreachable, the sample never raises.
    on = WorkerMetricsSource(Settings(_env_file=None, metrics_port=1))  # type: ignore[call-arg]
    sample = await on.sample()
    await on.close()
    assert sample == {"workers": {k: {"unreachable": True} for k in on.urls}}
    assert list(on.urls) == ["orders", "inventory", "viewing", "dispatch"]
