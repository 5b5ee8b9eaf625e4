"""Which failures are worth retrying, for how long, and the backoff loop that retries them.

Two transient classes, each with its own bound:

* **connection**: the broker or a database is unreachable, a connection dropped or was
  refused, the server is shutting down or full. Only these wait out an outage, with
  exponential jittered backoff, for at most ``max_attempts`` (about 5 minutes with the
  defaults); then :class:`RetriesExhausted` is raised, the worker stops and its
  supervisor restarts it from the last committed offsets (nothing is lost).
* **contention**: a deadlock or a serialization failure. Retried a few times
  (``CONTENTION_ATTEMPTS``); when it keeps happening it is treated like any other
  error of the events involved.

Everything else is permanent for the events involved, whatever its Python class: an
``OSError`` that is not a connection error (a full disk, a bad file), an asyncpg
``InterfaceError`` that is not about a closed connection (a bad argument), a bug. The
batch runners isolate such a batch and dead-letter the events that fail alone, instead
of stalling their partition. Every retry is counted (``on_retry``), and the workers
export the count as ``riverbed_retries_total{worker, cause}``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout

from core.errors import RetryableError

T = TypeVar("T")
log = logging.getLogger("riverbed.retry")

CONNECTION: tuple[type[BaseException], ...] = (
    RetryableError,
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,  # connect and read timeouts (asyncio's included)
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, ConnectionDoesNotExistError
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    KafkaConnectionError,
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
)
CONTENTION: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
# asyncpg reports a connection closed under a running query as an InterfaceError with
# one of these messages; other InterfaceErrors are usage errors (permanent).
_CLOSED = ("connection is closed", "connection was closed", "pool is closing")
CONTENTION_ATTEMPTS = 5
MAX_ATTEMPTS = 40  # 0.2 s doubling to a 10 s cap: about 5 minutes of outage


class RetriesExhausted(RetryableError):
    """A transient failure outlasted its bound; the cause is chained."""


@dataclass(frozen=True)
class RetryPolicy:
    """The bounds and backoff of :func:`retrying`; tests pass a fast ``sleep``."""

    base: float = 0.2
    cap: float = 10.0
    max_attempts: int = MAX_ATTEMPTS
    contention_attempts: int = CONTENTION_ATTEMPTS
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


DEFAULT_POLICY = RetryPolicy()


def cause_of(exc: BaseException) -> str | None:
    """``"connection"``, ``"contention"`` or None (permanent for the events involved)."""
    if isinstance(exc, RetriesExhausted):
        return None  # already retried to its bound: do not retry it again
    if isinstance(exc, CONNECTION):
        return "connection"
    if isinstance(exc, CONTENTION):
        return "contention"
    if isinstance(exc, asyncpg.InterfaceError) and any(m in str(exc) for m in _CLOSED):
        return "connection"
    if isinstance(exc, KafkaError) and exc.retriable:
        return "connection"  # leader moves, coordinator loads: the broker's own verdict
    return None


def is_transient(exc: BaseException) -> bool:
    return cause_of(exc) is not None


def is_connection_error(exc: BaseException) -> bool:
    """True for an outage (worth stopping for), also once its retries ran out."""
    if isinstance(exc, RetriesExhausted):
        return exc.__cause__ is not None and cause_of(exc.__cause__) == "connection"
    return cause_of(exc) == "connection"


async def retrying(
    fn: Callable[[], Awaitable[T]],
    *,
    what: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    on_retry: Callable[[BaseException, int], None] | None = None,
) -> T:
    """Run ``fn`` until it succeeds, retrying transient errors within their bounds.

    A permanent error is raised at once. A transient one that is still failing after
    its bound raises :class:`RetriesExhausted` chained to it: a contention error then
    counts as permanent for the events (the caller isolates them), a connection error
    stops the worker.
    """
    attempt = 0
    while True:
        try:
            return await fn()
        except Exception as exc:
            cause = cause_of(exc)
            if cause is None:
                raise
            attempt += 1
            p = policy
            bound = p.contention_attempts if cause == "contention" else p.max_attempts
            if attempt >= bound:
                raise RetriesExhausted(
                    f"{what}: {cause} error still failing after {attempt} attempts: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            delay = min(p.cap, p.base * 2 ** min(attempt, 10)) * (0.5 + random.random() / 2)  # noqa: S311
            log.warning(
                "%s failed (%s: %s); retry %d/%d in %.1fs",
                what,
                type(exc).__name__,
                exc,
                attempt,
                bound - 1,
                delay,
            )
            if on_retry:
                on_retry(exc, attempt)
            await p.sleep(delay)
