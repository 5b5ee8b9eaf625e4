"""The pending-events bound: room is waited for in order, cancellation leaks nothing."""

from __future__ import annotations

import asyncio

import pytest

from producers.backpressure import PendingLimit

pytestmark = pytest.mark.unit


async def test_acquire_within_the_limit_does_not_wait() -> None:
    limit = PendingLimit(10)
    await limit.acquire(6)
    await limit.acquire(4)
    assert limit.pending == 10 and limit.peak == 10


async def test_a_full_limit_waits_until_released_first_come_first_served() -> None:
    limit = PendingLimit(10)
    await limit.acquire(8)
    order: list[str] = []

    async def take(name: str, count: int) -> None:
        await limit.acquire(count)
        order.append(name)

    big = asyncio.create_task(take("big", 5))
    await asyncio.sleep(0)
    small = asyncio.create_task(take("small", 1))  # fits now, but must queue behind "big"
    await asyncio.sleep(0)
    assert order == [] and limit.pending == 8

    limit.release(8)
    await asyncio.gather(big, small)
    assert order == ["big", "small"] and limit.pending == 6 and limit.peak <= 10


async def test_a_cancelled_waiter_takes_nothing_and_unblocks_the_next() -> None:
    limit = PendingLimit(4)
    await limit.acquire(4)
    blocked = asyncio.create_task(limit.acquire(4))
    await asyncio.sleep(0)
    behind = asyncio.create_task(limit.acquire(1))
    await asyncio.sleep(0)
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    limit.release(1)
    await asyncio.wait_for(behind, 1)
    assert limit.pending == 4


async def test_more_than_the_limit_at_once_is_refused() -> None:
    limit = PendingLimit(3)
    with pytest.raises(ValueError):
        await limit.acquire(4)
    with pytest.raises(ValueError):
        PendingLimit(0)
