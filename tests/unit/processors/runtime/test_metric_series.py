"""Worker metrics keep a bounded set of series: lag series go with their partitions, and
the ``type`` label takes only registered event types."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRebalanceListener, TopicPartition

from core.settings import Settings
from processors.runtime.app import create_app
from processors.runtime.metrics import WorkerMetrics, event_type_of
from schemas import HEADER_TYPE
from schemas.registry import OTHER_TYPE, registry

pytestmark = pytest.mark.unit

LAG = "riverbed_consumer_lag_messages"
TP0, TP1, TP2 = (TopicPartition("t.orders", p) for p in range(3))


class FakeConsumer:
    """``assignment``, ``position`` and ``highwater`` of an aiokafka consumer."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned = set(assigned)
        self.highwaters = {tp: 10 * (tp.partition + 1) for tp in (TP0, TP1, TP2)}
        self.on_position: Any = None

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def position(self, tp: TopicPartition) -> int:
        if self.on_position is not None:
            self.on_position(tp)
        return 0

    def highwater(self, tp: TopicPartition) -> int:
        return self.highwaters[tp]


class Recorder(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.calls: list[tuple[str, set[TopicPartition]]] = []

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.calls.append(("revoked", set(revoked)))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.calls.append(("assigned", set(assigned)))


def lag_series(m: WorkerMetrics) -> dict[str, float]:
    """partition -> lag, for every lag series the registry would expose."""
    return {
        s.labels["partition"]: s.value
        for family in m.registry.collect()
        if family.name == LAG
        for s in family.samples
    }


def with_consumer(m: WorkerMetrics, consumer: FakeConsumer) -> None:
    m._consumer = lambda: consumer


async def test_the_next_update_drops_partitions_no_longer_assigned() -> None:
    m = WorkerMetrics(Settings(), "orders")
    consumer = FakeConsumer({TP0, TP1})
    with_consumer(m, consumer)
    await m.update_lag()
    assert lag_series(m) == {"0": 10, "1": 20}
    consumer.assigned = {TP1, TP2}  # a rebalance this worker saw no callback of
    await m.update_lag()
    assert lag_series(m) == {"1": 20, "2": 30}


async def test_a_revocation_during_an_update_leaves_no_series_behind() -> None:
    m = WorkerMetrics(Settings(), "orders")
    consumer = FakeConsumer({TP0, TP1})
    with_consumer(m, consumer)

    def revoke_tp0_while_reading(tp: TopicPartition) -> None:
        if tp == TP1:  # TP0's series is already set for this round
            consumer.assigned.discard(TP0)
            m.forget([TP0])

    consumer.on_position = revoke_tp0_while_reading
    await m.update_lag()
    assert lag_series(m) == {"1": 20}


async def test_the_listener_runs_the_inner_one_then_forgets_the_revoked_partitions() -> None:
    m = WorkerMetrics(Settings(), "inventory")
    with_consumer(m, FakeConsumer({TP0, TP1, TP2}))
    await m.update_lag()
    inner = Recorder()
    listener = m.listening(inner)
    await listener.on_partitions_revoked({TP0, TP2})
    assert inner.calls == [("revoked", {TP0, TP2})]
    assert lag_series(m) == {"1": 20}
    await listener.on_partitions_assigned({TP0})
    assert inner.calls[-1] == ("assigned", {TP0})


async def test_series_are_forgotten_even_when_the_inner_listener_fails() -> None:
    m = WorkerMetrics(Settings(), "orders")
    with_consumer(m, FakeConsumer({TP0}))
    await m.update_lag()

    class Failing(Recorder):
        async def on_partitions_revoked(self, revoked: Any) -> None:
            raise RuntimeError("flush failed")

    with pytest.raises(RuntimeError):
        await m.listening(Failing()).on_partitions_revoked({TP0})
    assert lag_series(m) == {}


async def test_faust_revocations_reach_the_metrics_through_the_apps_signal() -> None:
    settings = Settings(metrics_port=0)  # no HTTP endpoints
    app = create_app(settings, "viewing")  # a real faust app, never started
    m = WorkerMetrics(settings, "viewing")
    m.install(app)
    with_consumer(m, FakeConsumer({TP0, TP1}))
    await m.update_lag()
    assert lag_series(m) == {"0": 10, "1": 20}
    await app.on_partitions_revoked.send({TP0})
    assert lag_series(m) == {"1": 20}


def test_only_registered_types_become_labels() -> None:
    assert event_type_of([(HEADER_TYPE, b"order.placed")]) == "order.placed"
    for header in (b"order.placed.v2", b"x" * 500, b"\xff\xfe", b"", b"order.placed "):
        assert event_type_of([(HEADER_TYPE, header)]) == OTHER_TYPE
    assert event_type_of([]) == OTHER_TYPE
    assert registry.type_label(None) == OTHER_TYPE
    assert registry.type_label("stock.low") == "stock.low"


async def test_a_flood_of_invented_types_makes_one_series() -> None:
    m = WorkerMetrics(Settings(), "viewing")
    sent: list[Any] = []

    async def send(*args: Any) -> None:
        sent.append(args)

    dlq = m.dead_letters(send, "viewing", "riverbed.dlq")
    for n in range(200):
        await dlq.put(
            key=b"k",
            value=b"v",
            headers=[(HEADER_TYPE, f"made.up.{n}".encode())],
            topic="t",
            partition=0,
            offset=n,
            exc=ValueError("unknown type"),
        )

    class Env:
        type = "not.registered"

    async def flush(_envelopes: list[Any]) -> None:
        return None

    await m.observe(flush)([Env(), Env()])  # type: ignore[list-item]
    types = {
        (family.name, s.labels["type"])
        for family in m.registry.collect()
        for s in family.samples
        if "type" in s.labels and s.name.endswith("_total")
    }
    assert types == {
        ("riverbed_events_failed", OTHER_TYPE),
        ("riverbed_events_processed", OTHER_TYPE),
    }
    assert m.registry.get_sample_value(
        "riverbed_events_failed_total", {"worker": "viewing", "type": OTHER_TYPE}
    ) == len(sent)


def test_outbox_backlog_keeps_its_last_figure_when_not_measured() -> None:
    m = WorkerMetrics(Settings(), "orders")
    m.outbox(7)
    m.outbox(None)  # the database did not answer this tick
    assert m.registry.get_sample_value("riverbed_outbox_backlog_events", {"worker": "orders"}) == 7
    m.outbox(0)
    assert m.registry.get_sample_value("riverbed_outbox_backlog_events", {"worker": "orders"}) == 0
