"""Batch a faust stream into one flush per N events or T milliseconds, acking after.

The stream runs with manual acks (``noack``): an event is acknowledged, and so its
offset becomes committable, only after the flush that contains it succeeded, or after
it went to the dead-letter topic. A crash at any point therefore replays the batch, and
the idempotent flush makes that harmless (at-least-once in, exactly-once in effect).

Flushes are serialised by a lock, so batches commit in partition order even when the
size trigger (agent) and the time trigger (timer) race.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass
from typing import Any

from processors.runtime.dlq import DeadLetters
from processors.runtime.isolation import (
    Counters,
    Decoded,
    Flush,
    OnRetry,
    apply_batch,
    decode_message,
)
from processors.runtime.retry import DEFAULT_POLICY, RetryPolicy

__all__ = ["GC_THRESHOLDS", "BatchRunner", "Counters", "Flush", "Pending", "tune_gc"]
log = logging.getLogger("riverbed.batching")
# Python's default (700, 10, 10) runs a young collection every 700 allocations; a batch of
# 2,000 decoded envelopes makes thousands of them, each survivor is traversed again in the
# older generations, and profiles of the commerce worker showed ~40 % of its CPU in GC
# (attributed to whichever line allocated). Batches are acyclic and short-lived.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Fewer, larger collections for a batching worker; start-up objects never rescanned.

    Call once per process after start-up imports: ``gc.freeze`` moves every object alive
    now (modules, classes, faust's app) into the permanent generation.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass
class Pending:
    event: Any  # faust EventT: acknowledged after the flush
    decoded: Decoded


class BatchRunner:
    """Turns a stream of raw Kafka messages into idempotent batch flushes."""

    def __init__(
        self,
        *,
        name: str,
        flush: Flush,
        dead_letters: DeadLetters,
        max_events: int,
        max_wait_ms: int,
        on_retry: OnRetry | None = None,
        retry: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.name = name
        self._retry = retry
        self._flush = flush
        self._dlq = dead_letters
        self.max_events = max_events
        self.max_wait = max_wait_ms / 1000
        self._pending: list[Pending] = []
        self._oldest = 0.0
        self._lock = asyncio.Lock()
        self._stream: Any = None
        self._inflight: asyncio.Task[None] | None = None
        self.counters = Counters()
        self._count_retry = self.counters.counting(on_retry)

    async def run(self, stream: Any) -> None:
        """The agent body: ``async for`` over the stream with manual acks."""
        self._stream = stream.noack()
        async for event in self._stream.events():
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append(Pending(event, decode_message(event.message)))
            if len(self._pending) >= self.max_events:
                await self._flush_behind()

    async def _flush_behind(self) -> None:
        """Flush in the background so reading overlaps writing; at most one batch waits.

        When the previous flush is still running, wait for it first: memory stays bounded
        at two batches, and batches still commit in order (the lock is FIFO).
        """
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            await inflight  # re-raises what a background flush raised
        self._inflight = asyncio.create_task(self.flush())

    async def tick(self) -> None:
        """Called by a timer: flush what waited longer than ``max_wait``."""
        if self._pending and time.monotonic() - self._oldest >= self.max_wait:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            t0 = time.monotonic()
            applied, dead = await apply_batch(
                [p.decoded for p in batch],
                name=self.name,
                flush=self._flush,
                dead_letters=self._dlq,
                on_retry=self._count_retry,
                policy=self._retry,
            )
            for p in batch:  # only now: a crash before this line replays the batch
                await self._stream.ack(p.event)
            self.counters.flushed(self.name, len(batch), applied, dead, t0)
