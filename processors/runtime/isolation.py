"""Apply one batch: flush it whole, or isolate the events that fail and dead-letter them.

Shared by both batch runners (faust's :class:`~processors.runtime.batching.BatchRunner`
and the batch-native :class:`~processors.runtime.consumer.BatchConsumer`). The rules:

* undecodable messages go to the dead-letter topic first (they never reach a flush);
* the decoded ones are flushed together, with :func:`~processors.runtime.retry.retrying`;
* a connection error that outlasts its retries is raised: the worker stops and replays
  the batch from its committed offsets after the restart (nothing is dead-lettered for
  an outage);
* any other failure, including contention that keeps coming back, isolates the batch:
  each event is flushed alone, in order, and an event that still fails alone is
  dead-lettered with the reason, so one poison event never stalls its partition.

The flush is idempotent by event id, so the events of a failed batch attempt that are
flushed again alone change nothing twice.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from processors.runtime.dlq import DeadLetters
from processors.runtime.retry import DEFAULT_POLICY, RetryPolicy, is_connection_error, retrying
from schemas import Envelope, SchemaError, decode

log = logging.getLogger("riverbed.batching")
Flush = Callable[[list[Envelope[Any]]], Awaitable[None]]
OnRetry = Callable[[BaseException, int], None]


class RawMessage(Protocol):
    """What both faust's ``event.message`` and aiokafka's ``ConsumerRecord`` carry."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any


@dataclass
class Decoded:
    message: RawMessage
    envelope: Envelope[Any] | None
    error: BaseException | None


def decode_message(message: RawMessage) -> Decoded:
    """The envelope of one message, or the schema error that sends it to the DLQ."""
    try:
        return Decoded(message, decode(message.value, message.headers), None)
    except SchemaError as exc:
        return Decoded(message, None, exc)


@dataclass
class Counters:
    """What a batch runner has done; the metrics and the tests read it."""

    processed: int = 0
    dead_lettered: int = 0
    flushes: int = 0
    last_flush_seconds: float = 0.0
    retries: int = 0

    def flushed(self, name: str, size: int, applied: int, dead: int, started: float) -> None:
        """Count one finished flush of ``size`` messages that began at ``started``."""
        self.flushes += 1
        self.processed += applied
        self.dead_lettered += dead
        self.last_flush_seconds = time.monotonic() - started
        log.debug("%s: flushed %d events in %.1f ms", name, size, self.last_flush_seconds * 1000)

    def counting(self, on_retry: OnRetry | None) -> OnRetry:
        """A retry hook that counts each retry, then calls ``on_retry`` (the metrics)."""

        def count(exc: BaseException, attempt: int) -> None:
            self.retries += 1
            if on_retry is not None:
                on_retry(exc, attempt)

        return count


async def apply_batch(
    batch: Sequence[Decoded],
    *,
    name: str,
    flush: Flush,
    dead_letters: DeadLetters,
    on_retry: OnRetry | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> tuple[int, int]:
    """Flush ``batch`` (see the module docstring); returns (applied, dead-lettered)."""
    dead = 0
    for d in batch:
        if d.error is not None:
            await dead_letter(dead_letters, d.message, d.error, policy)
            dead += 1
    good = [(d.message, d.envelope) for d in batch if d.envelope is not None]
    if not good:
        return 0, dead

    async def attempt(envelopes: list[Envelope[Any]]) -> None:
        await retrying(
            functools.partial(flush, envelopes),
            what=f"{name} flush",
            policy=policy,
            on_retry=on_retry,
        )

    try:
        await attempt([envelope for _, envelope in good])
        return len(good), dead
    except Exception as exc:
        if is_connection_error(exc):
            raise
        log.warning("%s: batch of %d failed (%s); isolating", name, len(good), exc)
    applied = 0
    for message, envelope in good:
        try:
            await attempt([envelope])
            applied += 1
        except Exception as exc:
            if is_connection_error(exc):
                raise
            await dead_letter(dead_letters, message, exc, policy)
            dead += 1
    return applied, dead


async def dead_letter(
    dead_letters: DeadLetters,
    m: RawMessage,
    exc: BaseException,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> None:
    """The original bytes and headers to the dead-letter topic, with the reason."""
    await retrying(
        functools.partial(
            dead_letters.put,
            key=m.key,
            value=m.value,
            headers=list(m.headers or []),
            topic=m.topic,
            partition=m.partition,
            offset=m.offset,
            exc=exc,
        ),
        what="dead-letter",
        policy=policy,
    )
