"""``BatchConsumer`` (aiokafka ``getmany``) on a fake consumer: commits after the flush,
order, skip by header, isolation, and an outage that stops without committing."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from processors.runtime.consumer import BatchConsumer
from processors.runtime.retry import RetriesExhausted, RetryPolicy
from schemas import Envelope
from tests.unit.processors.runtime.fakes import Message, Sink, message, no_sleep, sku

pytestmark = pytest.mark.unit
FAST = RetryPolicy(max_attempts=3, contention_attempts=2, sleep=no_sleep)
TP0, TP1 = TopicPartition("t.inventory", 0), TopicPartition("t.inventory", 1)
SKIP = ("riverbed-applied-by", b"orders")


@dataclass
class Consumer:
    """Hands out scripted ``getmany`` results and records the commits."""

    polls: deque[dict[TopicPartition, list[Message]]]
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)

    async def getmany(
        self, *_tps: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Message]]:
        return self.polls.popleft() if self.polls else {}

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        self.commits.append(dict(offsets or {}))


@dataclass
class Recorder:
    consumer: Consumer
    batches: list[list[str]] = field(default_factory=list)
    commits_during: list[int] = field(default_factory=list)
    poison: str | None = None
    outage: bool = False

    async def __call__(self, envelopes: list[Envelope[Any]]) -> None:
        if self.outage:
            raise ConnectionResetError("reset")
        skus = [sku(e) for e in envelopes]
        if self.poison in skus:
            raise ValueError("poison")
        self.batches.append(skus)
        self.commits_during.append(len(self.consumer.commits))


def make(polls: list[dict[TopicPartition, list[Message]]], **kw: Any) -> tuple[Any, ...]:
    consumer = Consumer(deque(polls))
    flush, sink = Recorder(consumer, **kw), Sink()
    runner = BatchConsumer(
        name="test",
        consumer=consumer,
        flush=flush,
        dead_letters=sink.dead_letters(),
        max_events=3,
        max_wait_ms=0,  # every poll is due: one flush per poll
        skip=lambda headers: SKIP in headers,
        retry=FAST,
        commit_every_s=0,  # commit after every flush
    )
    return runner, consumer, flush, sink


def runner_for(
    consumer: Consumer, *, max_events: int = 100, **options: Any
) -> tuple[BatchConsumer, Recorder]:
    """A runner of up to 100 events over ``consumer``, flushing into a :class:`Recorder`."""
    flush = Recorder(consumer)
    runner = BatchConsumer(
        name="test",
        consumer=consumer,
        flush=flush,
        dead_letters=Sink().dead_letters(),
        max_events=max_events,
        retry=FAST,
        **options,
    )
    return runner, flush


async def test_offsets_are_committed_only_after_the_flush_per_partition() -> None:
    m = [message(n, partition=n % 2) for n in range(4)]
    runner, consumer, flush, _ = make([{TP0: [m[0], m[2]], TP1: [m[1]]}, {TP1: [m[3]]}])
    await runner.poll()
    await runner.poll()
    assert flush.batches == [["sku-0", "sku-2", "sku-1"], ["sku-3"]]
    assert flush.commits_during == [0, 1]  # nothing committed while a batch flushed
    assert consumer.commits == [{TP0: 3, TP1: 2}, {TP1: 4}]  # next offset to read


async def test_events_applied_by_their_emitter_are_skipped_but_committed() -> None:
    m = [message(0), message(1, extra=[SKIP]), message(2)]
    runner, consumer, flush, _ = make([{TP0: m}])
    await runner.poll()
    assert flush.batches == [["sku-0", "sku-2"]]
    assert consumer.commits == [{TP0: 3}]
    assert runner.skipped == 1


async def test_a_poison_event_is_isolated_and_dead_lettered() -> None:
    runner, consumer, flush, sink = make([{TP0: [message(n) for n in range(3)]}], poison="sku-1")
    await runner.poll()
    assert flush.batches == [["sku-0"], ["sku-2"]]
    assert len(sink.sent) == 1 and dict(sink.sent[0].headers)["riverbed-dlq-offset"] == b"1"
    assert consumer.commits == [{TP0: 3}]


async def test_an_outage_stops_the_consumer_without_a_commit() -> None:
    runner, consumer, _, sink = make([{TP0: [message(0)]}], outage=True)
    with pytest.raises(RetriesExhausted):
        await runner.poll()
    assert consumer.commits == [] and sink.sent == []
    assert runner.counters.retries == FAST.max_attempts - 1


async def test_revoking_partitions_flushes_and_commits_what_is_pending() -> None:
    consumer = Consumer(deque([{TP0: [message(0)]}]))
    runner, flush = runner_for(
        consumer,
        max_wait_ms=60_000,  # not due: only the revocation flushes it
        flush_when_idle=False,
    )
    await runner.poll()
    assert flush.batches == [] and consumer.commits == []
    await runner.listener.on_partitions_revoked({TP0})
    assert flush.batches == [["sku-0"]]
    assert consumer.commits == [{TP0: 1}]


async def test_a_pending_batch_is_flushed_once_nothing_more_is_buffered() -> None:
    consumer = Consumer(deque([{TP0: [message(0)]}, {TP0: [message(1)]}, {}, {}]))
    runner, flush = runner_for(
        consumer,
        max_wait_ms=2_000,  # idle flush from 0.5 s of age, due at 2 s
        commit_every_s=0,
    )
    await runner.poll()
    await runner.poll()
    assert flush.batches == []  # records kept coming: keep batching
    await runner.poll()
    assert flush.batches == []  # nothing more buffered, but the batch is still young
    await asyncio.sleep(0.55)
    await runner.poll()
    assert flush.batches == [["sku-0", "sku-1"]]
    assert consumer.commits == [{TP0: 2}]


async def test_commits_wait_for_their_interval_but_not_for_a_revocation() -> None:
    consumer = Consumer(deque([{TP0: [message(0)]}, {TP1: [message(1, partition=1)]}]))
    runner, flush = runner_for(
        consumer,
        max_wait_ms=0,
        commit_every_s=3600,
    )
    await runner.poll()
    await runner.poll()
    assert flush.batches == [["sku-0"], ["sku-1"]]
    assert consumer.commits == []  # flushed, committed later
    await runner.listener.on_partitions_revoked({TP0, TP1})
    assert consumer.commits == [{TP0: 1, TP1: 2}]


async def test_an_idle_consumer_commits_what_its_last_flush_left() -> None:
    consumer = Consumer(deque([{TP0: [message(0)]}]))
    runner, _ = runner_for(
        consumer,
        max_wait_ms=0,
        commit_every_s=0.05,
    )
    await runner.poll()
    assert consumer.commits == []  # flushed within the interval: not yet committed
    await asyncio.sleep(0.06)
    await runner.poll()  # nothing new
    assert consumer.commits == [{TP0: 1}]


async def test_a_commit_that_failed_on_the_connection_is_retried_by_the_next_one() -> None:
    class Flaky(Consumer):
        async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
            if not self.commits:
                self.commits.append({})  # the failed attempt
                raise KafkaConnectionError("broker gone")
            await super().commit(offsets)

    consumer = Flaky(deque([{TP0: [message(0)]}, {TP1: [message(1, partition=1)]}]))
    runner, _ = runner_for(
        consumer,
        max_wait_ms=0,
        commit_every_s=0,
    )
    await runner.poll()
    await runner.poll()
    assert consumer.commits == [{}, {TP0: 1, TP1: 2}]  # TP0 came back with TP1


async def test_revocation_hook_runs_after_the_flush_and_commit_and_assignment_hook_on_arrival() -> (
    None
):
    consumer = Consumer(deque([{TP0: [message(0)]}]))
    seen: list[tuple[str, frozenset[TopicPartition], int, int]] = []

    def hook(what: str) -> Any:
        async def record(partitions: frozenset[TopicPartition]) -> None:
            seen.append((what, partitions, len(flush.batches), len(consumer.commits)))

        return record

    runner, flush = runner_for(
        consumer,
        max_wait_ms=60_000,
        flush_when_idle=False,
        on_revoked=hook("revoked"),
        on_assigned=hook("assigned"),
    )
    await runner.listener.on_partitions_assigned({TP0, TP1})
    await runner.poll()
    await runner.listener.on_partitions_revoked(set())  # a first join revokes nothing
    await runner.listener.on_partitions_revoked({TP0, TP1})
    assert seen == [
        ("assigned", frozenset({TP0, TP1}), 0, 0),
        ("revoked", frozenset({TP0, TP1}), 1, 1),  # the pending batch went first
    ]


async def test_revocation_hook_runs_even_when_the_last_flush_fails() -> None:
    consumer = Consumer(deque([{TP0: [message(0)]}]))
    revoked: list[frozenset[TopicPartition]] = []

    async def forget(partitions: frozenset[TopicPartition]) -> None:
        revoked.append(partitions)

    runner, flush = runner_for(
        consumer, max_wait_ms=60_000, flush_when_idle=False, on_revoked=forget
    )
    flush.outage = True
    await runner.poll()
    with pytest.raises(RetriesExhausted):
        await runner.listener.on_partitions_revoked({TP0})
    assert revoked == [frozenset({TP0})]  # state dropped although nothing was committed
    assert consumer.commits == []


# --- overlap: the next batch is fetched and decoded while a flush runs ---------------------


@dataclass
class Gated(Recorder):
    """A flush that waits for ``gate`` before it records its batch."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    running: int = 0
    most: int = 0

    async def __call__(self, envelopes: list[Envelope[Any]]) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.gate.wait()
            await super().__call__(envelopes)
        finally:
            self.running -= 1


def overlapping(polls: list[dict[TopicPartition, list[Message]]], **kw: Any) -> tuple[Any, ...]:
    consumer = Consumer(deque(polls))
    flush = Gated(consumer, **kw)
    runner = BatchConsumer(
        name="test",
        consumer=consumer,
        flush=flush,
        dead_letters=Sink().dead_letters(),
        max_events=2,
        max_wait_ms=0,
        retry=FAST,
        commit_every_s=0,
        overlap=True,
    )
    return runner, consumer, flush


async def test_with_overlap_the_next_batch_is_read_while_one_flush_at_a_time_runs() -> None:
    m = [message(n) for n in range(5)]
    runner, consumer, flush = overlapping([{TP0: m[:2]}, {TP0: m[2:3]}, {TP0: m[3:4]}, {}, {}])
    await runner.poll()  # batch 1 (full) starts flushing and waits at the gate
    await runner.poll()  # read meanwhile: m2
    await runner.poll()  # and m3: the next batch is full
    fourth = asyncio.create_task(runner.poll())  # so the next poll waits for batch 1
    await asyncio.sleep(0.01)
    assert not fourth.done()
    assert flush.batches == [] and consumer.commits == []
    flush.gate.set()
    await asyncio.wait_for(fourth, timeout=2)  # batch 1 ended; batch 2 starts
    await runner.settle()
    assert flush.batches == [["sku-0", "sku-1"], ["sku-2", "sku-3"]]  # in order
    assert flush.most == 1  # never two flushes at once
    assert consumer.commits == [{TP0: 2}, {TP0: 4}]  # each after its flush
    assert flush.commits_during == [0, 1]


async def test_with_overlap_a_failed_flush_stops_the_loop_at_the_next_poll() -> None:
    runner, consumer, flush = overlapping([{TP0: [message(0)]}, {}, {}], outage=True)
    flush.gate.set()
    with pytest.raises(RetriesExhausted):
        for _ in range(3):
            await runner.poll()
            await asyncio.sleep(0)
    assert consumer.commits == []


async def test_with_overlap_stopping_waits_for_the_flush_then_flushes_the_rest() -> None:
    m = [message(n) for n in range(3)]
    runner, consumer, flush = overlapping([{TP0: m[:2]}, {TP0: m[2:]}])
    runs = asyncio.create_task(runner.run())
    for _ in range(5):
        await asyncio.sleep(0)
    runner.stop()
    flush.gate.set()
    await asyncio.wait_for(runs, timeout=2)
    assert flush.batches == [["sku-0", "sku-1"], ["sku-2"]]
    assert consumer.commits[-1] == {TP0: 3}


async def test_with_overlap_a_revocation_waits_for_the_flush_in_flight() -> None:
    m = [message(n) for n in range(3)]
    runner, consumer, flush = overlapping([{TP0: m[:2]}, {TP0: m[2:]}])
    await runner.poll()
    await runner.poll()
    revoked = asyncio.create_task(runner.listener.on_partitions_revoked({TP0}))
    await asyncio.sleep(0.01)
    assert not revoked.done() and flush.batches == []
    flush.gate.set()
    await asyncio.wait_for(revoked, timeout=2)
    assert flush.batches == [["sku-0", "sku-1"], ["sku-2"]]
    assert consumer.commits[-1] == {TP0: 3}
