"""The loop every worker kind runs: stop flushes the last batch, a crashed side task stops
the worker with its error, and both clients are stopped either way (fakes of our seams)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from processors.runtime.shell import serve

pytestmark = pytest.mark.unit


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")


class FakeRunner:
    """Consumes until stopped, then 'flushes' its last batch."""

    def __init__(self) -> None:
        self._stopped = asyncio.Event()
        self.flushed_last = False

    async def run(self) -> None:
        await self._stopped.wait()
        await asyncio.sleep(0)
        self.flushed_last = True

    def stop(self) -> None:
        self._stopped.set()


async def test_stop_flushes_the_last_batch_cancels_side_tasks_and_stops_both_clients() -> None:
    consumer, producer, runner = FakeClient(), FakeClient(), FakeRunner()
    stop = asyncio.Event()
    side_cancelled = asyncio.Event()
    started: list[str] = []

    async def side() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            side_cancelled.set()
            raise

    async def on_start() -> None:
        started.append("relay")

    async def on_drained() -> None:
        started.append(f"drained after the last flush: {runner.flushed_last}")

    async def stopper() -> None:
        await asyncio.sleep(0.01)
        stop.set()

    stopping = asyncio.create_task(stopper())
    await serve(
        "k",
        cast(Any, consumer),
        cast(Any, producer),
        cast(Any, runner),
        stop,
        side=[("side", side)],
        on_start=on_start,
        on_drained=on_drained,
    )
    await stopping
    assert runner.flushed_last
    assert side_cancelled.is_set()
    assert started == ["relay", "drained after the last flush: True"]
    assert consumer.calls == ["start", "stop"]
    assert producer.calls == ["stop"]  # the caller started it


async def test_a_crashed_side_task_stops_the_worker_with_its_error() -> None:
    consumer, producer, runner = FakeClient(), FakeClient(), FakeRunner()

    async def broken() -> None:
        raise RuntimeError("relay broke")

    with pytest.raises(RuntimeError, match="relay broke"):
        await serve(
            "k",
            cast(Any, consumer),
            cast(Any, producer),
            cast(Any, runner),
            asyncio.Event(),
            side=[("relay", broken)],
        )
    # The consume loop is cancelled, not awaited: what it had not committed is read again
    # by the worker that takes the partitions (at-least-once).
    assert consumer.calls == ["start", "stop"] and producer.calls == ["stop"]
