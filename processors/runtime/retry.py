"""Which failures are worth retrying, and the backoff loop that retries them.

Transient: the broker or a database is unreachable, a connection dropped, a deadlock
or serialization failure. Everything else is permanent for the events involved: they
go to the dead-letter topic instead of blocking the partition forever.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout

from core.errors import RetryableError

T = TypeVar("T")
log = logging.getLogger("riverbed.retry")

TRANSIENT: tuple[type[BaseException], ...] = (
    RetryableError,
    OSError,
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    KafkaError,
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


async def retrying(
    fn: Callable[[], Awaitable[T]],
    *,
    what: str,
    base: float = 0.2,
    cap: float = 10.0,
    on_retry: Callable[[BaseException, int], None] | None = None,
) -> T:
    """Run ``fn`` until it succeeds; transient errors wait (exponential, jittered)."""
    attempt = 0
    while True:
        try:
            return await fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            attempt += 1
            delay = min(cap, base * 2 ** min(attempt, 10)) * (0.5 + random.random() / 2)  # noqa: S311
            log.warning(
                "%s failed (%s: %s); retry %d in %.1fs",
                what,
                type(exc).__name__,
                exc,
                attempt,
                delay,
            )
            if on_retry:
                on_retry(exc, attempt)
            await asyncio.sleep(delay)
