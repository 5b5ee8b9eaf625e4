"""What every worker kind shares around its flush: the group's consumer, and the loop that
runs the consumer with its side tasks until the worker is stopped.

Each kind (``processors.commerce``, ``processors.viewing``, ``processors.dispatch``)
keeps what is its own: the flush, the state, the resources and which side tasks run
beside the consume loop (the outbox relay, a timer, the recommender). The consumer's
settings and the stop/cleanup order were the same in all three, copied; here they are
written once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from core.kafka import new_consumer
from core.settings import Settings
from processors.runtime.app import app_id
from processors.runtime.batching import tune_gc
from processors.runtime.consumer import BatchConsumer


def group_consumer(settings: Settings, kind: str, **extra: Any) -> AIOKafkaConsumer:
    """The consumer of ``kind``'s group ``<group_prefix>-<kind>``: manual commits, from the
    earliest offset of a new group, batches of up to ``sink_batch_size`` records.

    The range assignor, not aiokafka's round robin: partition n of every topic a kind
    reads goes to one member, so co-partitioned topics (the dispatch worker's three) meet
    in one place; with one topic the two are the same.
    """
    s = settings
    return new_consumer(
        s,
        group_id=app_id(s, kind),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # A killed worker's partitions move within seconds (faust's default was 60 s).
        session_timeout_ms=int(s.worker_session_timeout_s * 1000),
        heartbeat_interval_ms=int(s.worker_session_timeout_s * 1000 / 5),
        max_poll_records=s.sink_batch_size,
        partition_assignment_strategy=(RangePartitionAssignor,),
        **extra,
    )


SideTask = Callable[[], Coroutine[Any, Any, Any]]


async def serve(
    kind: str,
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    runner: BatchConsumer,
    stop: asyncio.Event,
    *,
    side: Sequence[tuple[str, SideTask]] = (),
    on_start: Callable[[], Awaitable[Any]] | None = None,
    on_drained: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Run ``runner`` and the ``side`` tasks until ``stop`` is set or one of them ends.

    The producer must be started (the caller built the sender on it). ``on_start`` runs
    once the consumer has started, before the first batch (the outbox's left-overs);
    ``on_drained`` after the consume loop flushed its last batch, while the side tasks
    still run (the dispatch worker's publisher sends the last trips). On the way out the consume loop flushes and commits its last batch, then the side
    tasks are cancelled and both clients stopped. A loop that crashed stops the worker
    with its error: a worker that keeps running without its relay or its timer would
    look healthy and do half its job.
    """
    tune_gc()
    tasks: list[asyncio.Task[Any]] = []
    stopped: asyncio.Task[Any] | None = None
    try:
        await consumer.start()
        if on_start is not None:
            await on_start()
        tasks = [asyncio.create_task(runner.run(), name=f"{kind}.consume")]
        tasks += [asyncio.create_task(make(), name=f"{kind}.{name}") for name, make in side]
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        runner.stop()
        for task in done:
            if task is not stopped:
                task.result()  # a crashed loop stops the worker with its error
        await tasks[0]  # the consume loop flushes its last batch
        if on_drained is not None:
            await on_drained()
    finally:
        if stopped is not None:
            stopped.cancel()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await consumer.stop()
        await producer.stop()
