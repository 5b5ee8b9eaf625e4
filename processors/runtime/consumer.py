"""Batch-native consumption: aiokafka ``getmany`` batches, one flush, then the commit.

faust hands a stream over one event at a time (its stream, fetcher and ack machinery
were 15 % of the orders worker's CPU, the whole consume path 24 %, py-spy in
BENCHMARKS.md). A worker that writes whole batches to a database and keeps no faust
table or window gains nothing from it, so this loop reads what the fetcher already
buffered with ``getmany``, decodes it, flushes it in one transaction and commits the
offsets after the flush:

* offsets are committed only after the flush that applied their events succeeded (or
  after the events went to the dead-letter topic), at most once a second: a crash
  replays what was not committed, and the idempotent flush makes that harmless
  (at-least-once in, exactly-once in effect);
* one loop per process and one flush at a time: partitions are applied in order, and
  a partition is never processed by two flushes at once (concurrency 1); with
  ``overlap`` the loop goes on fetching and decoding the next batch while a flush runs
  (still one flush at a time, started after the previous one ended);
* before partitions are revoked (rebalance, shutdown) the pending batch is flushed and
  committed, so the next owner starts where this one stopped;
* ``skip(headers)`` drops a message before decoding (its offset still commits), e.g. an
  event whose effect the worker's own kind already applied;
* ``on_revoked(partitions)`` runs after that last flush and commit (also when the flush
  failed), ``on_assigned(partitions)`` when partitions arrive: a worker that keeps state
  per partition in memory (the viewing worker's sessions) drops it there, so it never
  serves a partition with state that another owner may have changed in between.

faust keeps the work where it earns its place (tables and windows with changelog
recovery); every Riverbed worker now runs on this loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

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

log = logging.getLogger("riverbed.consumer")
Skip = Callable[[Sequence[tuple[str, bytes]]], bool]
OnPartitions = Callable[[frozenset[TopicPartition]], Awaitable[None]]
IDLE_FRACTION = 4  # an idle batch is flushed once its oldest event waited max_wait / 4
COMMIT_EVERY_S = 1.0  # offsets of flushed batches are committed at most this often
# With ``overlap``: how long a fetch waits while a flush is in flight, so that the next
# flush starts within this long of the previous one's end.
OVERLAP_POLL_S = 0.005


class Consumer(Protocol):
    """The part of ``AIOKafkaConsumer`` the loop uses (tests pass a fake)."""

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]: ...

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None: ...


class BatchConsumer:
    """Turns ``getmany`` batches into idempotent flushes, committing after each."""

    def __init__(
        self,
        *,
        name: str,
        consumer: Consumer,
        flush: Flush,
        dead_letters: DeadLetters,
        max_events: int,
        max_wait_ms: int,
        skip: Skip | None = None,
        on_retry: OnRetry | None = None,
        retry: RetryPolicy = DEFAULT_POLICY,
        flush_when_idle: bool = True,
        commit_every_s: float = COMMIT_EVERY_S,
        on_revoked: OnPartitions | None = None,
        on_assigned: OnPartitions | None = None,
        overlap: bool = False,
    ) -> None:
        self.name = name
        self._consumer = consumer
        self._flush = flush
        self._dlq = dead_letters
        self.max_events = max_events
        self.max_wait = max_wait_ms / 1000
        self._skip = skip
        self._retry = retry
        self._flush_when_idle = flush_when_idle
        self._commit_every_s = commit_every_s
        self._flushed: dict[TopicPartition, int] = {}  # flushed, not yet committed
        self._committed_at = time.monotonic()
        self._pending: list[Decoded] = []
        self._offsets: dict[TopicPartition, int] = {}  # next offset to commit
        self._oldest = 0.0
        self._lock = asyncio.Lock()
        self._stopping = False
        self.counters = Counters()
        self._count_retry = self.counters.counting(on_retry)
        self.skipped = 0
        self.on_revoked = on_revoked
        self.on_assigned = on_assigned
        self.listener = _FlushOnRevoke(self)
        self._overlap = overlap
        self._inflight: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Poll, batch and flush until :meth:`stop`; the last batch is flushed on the way out."""
        while not self._stopping:
            await self.poll()
        await self.settle()
        await self.flush(commit_now=True)

    async def settle(self) -> None:
        """Until the flush in flight (``overlap``) has ended; raises what it raised."""
        task, self._inflight = self._inflight, None
        if task is not None:
            await task

    def stop(self) -> None:
        self._stopping = True

    async def poll(self) -> None:
        """One ``getmany``, then a flush when the batch is full, due, or nothing more waits.

        With ``flush_when_idle`` a pending batch does not wait for ``max_wait`` once the
        fetcher has nothing more buffered: it is flushed at once, so under light load an
        event waits for no timer, and under heavy load batches still grow with what
        arrives during each flush. ``max_wait`` then only bounds a batch that keeps
        growing. (Measured in the quick bench: p50 at 50 % load was ~150 ms with a
        100 ms timer, the timer being most of it.)
        """
        if self._offsets:
            age = time.monotonic() - self._oldest
            left = max(self.max_wait - age, 0.0)
            wait = (
                min(left, max(self.max_wait / IDLE_FRACTION - age, 0.0))
                if self._flush_when_idle
                else left
            )
        else:
            wait = self.max_wait
        if self._inflight is not None:
            if self._inflight.done() or len(self._pending) >= self.max_events:
                await self.settle()  # its error stops the loop; a full next batch waits
            else:
                wait = OVERLAP_POLL_S  # also when the next batch is due: it waits for this one
        room = max(self.max_events - len(self._pending), 1)
        fetched = await self._consumer.getmany(timeout_ms=int(wait * 1000), max_records=room)
        for tp, messages in fetched.items():
            if not messages:
                continue
            if not self._offsets:
                self._oldest = time.monotonic()
            for m in messages:
                self._add(m)
            self._offsets[tp] = messages[-1].offset + 1
        due = self._offsets and time.monotonic() - self._oldest >= self.max_wait
        # Idle: nothing more buffered, and the batch is old enough that its fixed cost
        # (~17 round trips and two commits) is shared by more than a handful of events:
        # flushing at every idle poll made batches of ~50 at 5,000 ev/s and the pipeline
        # fell behind (quick bench: p99 2.3 s at 50 % load). With this gate p99 still
        # depends on the machine's other load (BENCHMARKS.md).
        idle = (
            self._flush_when_idle
            and self._offsets
            and not any(fetched.values())
            and time.monotonic() - self._oldest >= self.max_wait / IDLE_FRACTION
        )
        if self._inflight is not None:
            await asyncio.sleep(0)  # a fetch that had records buffered did not yield
            return  # the next flush starts once this one has ended
        if len(self._pending) >= self.max_events or due or idle:
            if self._overlap:
                # Fetching and decoding the next batch overlaps this flush's waits on the
                # database (the orders worker's loop was fetch, decode, then a transaction
                # in which its Python waited for PostgreSQL ~40 % of the time).
                self._inflight = asyncio.create_task(self.flush(), name=f"{self.name}.flush")
                await asyncio.sleep(0)  # it takes the pending batch before the next fetch
            else:
                await self.flush()
        elif self._flushed and time.monotonic() - self._committed_at >= self._commit_every_s:
            # Nothing new since the last flush: commit what it left, so that an idle
            # worker shows no lag.
            async with self._lock:
                if self._flushed:
                    await self._commit()

    def _add(self, m: Any) -> None:
        headers = m.headers or ()
        if self._skip is not None and self._skip(headers):
            self.skipped += 1
            return
        self._pending.append(decode_message(m))

    async def flush(self, *, commit_now: bool = False) -> None:
        """Apply the pending batch, then commit its offsets (also of skipped messages).

        Offsets of flushed batches are committed at most every ``commit_every_s`` (each
        commit is a broker round trip and a write to ``__consumer_offsets``; per flush
        it was 8 µs of broker CPU per event more), and always before partitions are
        revoked or the loop stops. A crash in between replays at most that much, which
        the idempotent flush absorbs.
        """
        async with self._lock:
            batch, self._pending = self._pending, []
            offsets, self._offsets = self._offsets, {}
            if not offsets:
                if commit_now and self._flushed:
                    await self._commit()
                return
            t0 = time.monotonic()
            applied, dead = await apply_batch(
                batch,
                name=self.name,
                flush=self._flush,
                dead_letters=self._dlq,
                on_retry=self._count_retry,
                policy=self._retry,
            )
            self._flushed.update(offsets)
            if commit_now or time.monotonic() - self._committed_at >= self._commit_every_s:
                await self._commit()
            self.counters.flushed(self.name, len(batch), applied, dead, t0)

    async def _commit(self) -> None:
        offsets, self._flushed = self._flushed, {}
        self._committed_at = time.monotonic()
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on (this member was evicted): the next owner replays from
            # the last committed offsets, and the idempotent flush makes that harmless.
            log.warning(
                "%s: commit after flush failed (%s); events will be replayed", self.name, exc
            )
        except KafkaError as exc:
            if not exc.retriable:
                raise
            for tp, offset in offsets.items():  # keep them for the next commit
                self._flushed[tp] = max(offset, self._flushed.get(tp, 0))
            log.warning("%s: commit failed (%s); the next commit retries it", self.name, exc)


class _FlushOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: BatchConsumer) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        if not revoked:
            return
        try:
            await self._runner.flush(commit_now=True)
        finally:
            if self._runner.on_revoked is not None:
                await self._runner.on_revoked(frozenset(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if self._runner.on_assigned is not None:
            await self._runner.on_assigned(frozenset(assigned))
