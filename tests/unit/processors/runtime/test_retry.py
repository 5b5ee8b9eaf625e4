"""``retrying``: what is transient, and the bounds of each cause."""

from __future__ import annotations

import errno

import asyncpg
import pytest

from processors.runtime.retry import (
    RetriesExhausted,
    RetryPolicy,
    cause_of,
    is_connection_error,
    retrying,
)
from tests.unit.processors.runtime.fakes import no_sleep

pytestmark = pytest.mark.unit
FAST = RetryPolicy(max_attempts=4, contention_attempts=2, sleep=no_sleep)


class Flaky:
    """Fails with ``exc`` ``times`` times, then returns ``"ok"``."""

    def __init__(self, exc: BaseException, times: int) -> None:
        self.exc, self.left, self.calls = exc, times, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise self.exc
        return "ok"


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), "connection"),
        (TimeoutError(), "connection"),
        (asyncpg.ConnectionDoesNotExistError("closed in the middle"), "connection"),
        (asyncpg.InterfaceError("cannot perform operation: connection is closed"), "connection"),
        (asyncpg.DeadlockDetectedError("deadlock"), "contention"),
        (asyncpg.SerializationError("serialization"), "contention"),
        # Not connection errors, although they are OSError / InterfaceError:
        (OSError(errno.ENOSPC, "No space left on device"), None),
        (FileNotFoundError(errno.ENOENT, "missing"), None),
        (asyncpg.InterfaceError("the server expects 2 arguments, 1 was passed"), None),
        (ValueError("a bug"), None),
    ],
)
def test_only_connection_and_contention_errors_are_transient(
    exc: BaseException, cause: str | None
) -> None:
    assert cause_of(exc) == cause


async def test_a_permanent_error_is_raised_at_once() -> None:
    fn = Flaky(OSError(errno.ENOSPC, "disk full"), 1)
    with pytest.raises(OSError, match="disk full"):
        await retrying(fn, what="t", policy=FAST)
    assert fn.calls == 1


async def test_a_connection_error_is_retried_and_each_retry_is_counted() -> None:
    retries: list[int] = []
    fn = Flaky(ConnectionResetError("reset"), 3)
    assert (
        await retrying(fn, what="t", policy=FAST, on_retry=lambda _e, n: retries.append(n)) == "ok"
    )
    assert fn.calls == 4
    assert retries == [1, 2, 3]


async def test_connection_retries_are_bounded() -> None:
    fn = Flaky(ConnectionResetError("reset"), 100)
    with pytest.raises(RetriesExhausted) as caught:
        await retrying(fn, what="t", policy=FAST)
    assert fn.calls == FAST.max_attempts
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    assert is_connection_error(caught.value)  # the worker stops instead of dead-lettering
    assert cause_of(caught.value) is None  # and nobody retries it again


async def test_contention_has_a_shorter_bound_and_then_counts_as_permanent() -> None:
    fn = Flaky(asyncpg.DeadlockDetectedError("deadlock"), 100)
    with pytest.raises(RetriesExhausted) as caught:
        await retrying(fn, what="t", policy=FAST)
    assert fn.calls == FAST.contention_attempts
    assert not is_connection_error(caught.value)  # its events get isolated


async def test_backoff_grows_and_is_capped() -> None:
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)

    policy = RetryPolicy(base=1.0, cap=5.0, max_attempts=6, sleep=sleep)
    await retrying(Flaky(ConnectionResetError(), 5), what="t", policy=policy)
    assert len(delays) == 5
    assert all(d <= 5.0 for d in delays)
    assert delays[0] <= 2.0 < delays[-1]  # jittered between half and all of 2, ... 5
