"""``BatchRunner`` (the faust agent body) on a fake stream: acks after the flush, order,
isolation of a poison event, and an outage that stops instead of dead-lettering."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from processors.runtime.batching import BatchRunner
from processors.runtime.retry import RetriesExhausted, RetryPolicy
from schemas import Envelope
from tests.unit.processors.runtime.fakes import Message, Sink, message, no_sleep, sku

pytestmark = pytest.mark.unit
FAST = RetryPolicy(max_attempts=3, contention_attempts=2, sleep=no_sleep)


@dataclass
class Event:
    message: Message


@dataclass
class Stream:
    """faust's stream as BatchRunner uses it: ``noack()``, ``events()``, ``ack()``."""

    messages: list[Message]
    acked: list[int] = field(default_factory=list)

    def noack(self) -> Stream:
        return self

    async def events(self) -> Any:
        for m in self.messages:
            yield Event(m)

    async def ack(self, event: Event) -> None:
        self.acked.append(event.message.offset)


@dataclass
class Recorder:
    """A flush that records its batches, what was acked when it ran, and fails on cue."""

    stream: Stream | None = None
    batches: list[list[str]] = field(default_factory=list)
    acked_during: list[list[int]] = field(default_factory=list)
    poison: str | None = None
    outage: bool = False

    async def __call__(self, envelopes: list[Envelope[Any]]) -> None:
        if self.outage:
            raise ConnectionRefusedError(111, "refused")
        skus = [sku(e) for e in envelopes]
        if self.poison in skus:
            raise ValueError(f"{self.poison} breaks a constraint")
        self.batches.append(skus)
        self.acked_during.append(list(self.stream.acked) if self.stream else [])


def runner(flush: Recorder, sink: Sink, max_events: int = 3) -> BatchRunner:
    return BatchRunner(
        name="test",
        flush=flush,
        dead_letters=sink.dead_letters(),
        max_events=max_events,
        max_wait_ms=10_000,
        retry=FAST,
    )


async def drive(r: BatchRunner, stream: Stream) -> None:
    await r.run(stream)
    await r.flush()  # the timer's job: what is left after the stream ended


async def test_events_are_acked_only_after_their_flush_and_in_order() -> None:
    stream = Stream([message(n) for n in range(7)])
    flush = Recorder(stream)
    r = runner(flush, Sink())
    await drive(r, stream)
    # The agent keeps reading while a batch flushes in the background, so a batch may
    # hold more than max_events; the order of events across batches is the stream's.
    assert [s for batch in flush.batches for s in batch] == [f"sku-{n}" for n in range(7)]
    assert len(flush.batches) >= 2
    done = 0
    for batch, acked in zip(flush.batches, flush.acked_during, strict=True):
        # While a batch flushed, exactly the events of earlier batches had been acked.
        assert acked == list(range(done))
        done += len(batch)
    assert stream.acked == list(range(7))
    assert (r.counters.processed, r.counters.flushes) == (7, len(flush.batches))


async def test_a_poison_event_is_isolated_and_dead_lettered_the_rest_applied_in_order() -> None:
    stream = Stream([message(n) for n in range(3)])
    flush, sink = Recorder(stream, poison="sku-1"), Sink()
    r = runner(flush, sink)
    await drive(r, stream)
    assert flush.batches == [["sku-0"], ["sku-2"]]  # alone, in order, without the poison
    [dead] = sink.sent
    assert dead.value == stream.messages[1].value
    assert dict(dead.headers)["riverbed-dlq-reason"] == b"sku-1 breaks a constraint"
    assert stream.acked == [0, 1, 2]  # the partition moves on
    assert (r.counters.processed, r.counters.dead_lettered) == (2, 1)


async def test_an_undecodable_message_is_dead_lettered_without_reaching_the_flush() -> None:
    bad = Message("t.inventory", 0, 1, b"s1", b"\xff not json", [])
    stream = Stream([message(0), bad, message(2)])
    flush, sink = Recorder(stream), Sink()
    await drive(runner(flush, sink), stream)
    assert flush.batches == [["sku-0", "sku-2"]]
    assert [s.value for s in sink.sent] == [b"\xff not json"]
    assert stream.acked == [0, 1, 2]


async def test_an_outage_outlasting_its_retries_stops_the_runner_without_acks() -> None:
    stream = Stream([message(n) for n in range(3)])
    flush, sink = Recorder(stream, outage=True), Sink()
    r = runner(flush, sink)
    with pytest.raises(RetriesExhausted):
        await drive(r, stream)
    await asyncio.sleep(0)
    assert stream.acked == []  # replayed after the restart
    assert sink.sent == []  # an outage is never the events' fault
    assert r.counters.retries == FAST.max_attempts - 1
