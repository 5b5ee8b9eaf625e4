"""A bound on events handed to Kafka but not yet acknowledged (the publisher's memory).

Unlike :class:`asyncio.Semaphore`, one acquisition can take many slots at once (a whole
chunk of a batch) and waiters are served strictly in arrival order, so a large request
is never starved by a stream of small ones.
"""

from __future__ import annotations

import asyncio
from collections import deque


class PendingLimit:
    """At most ``limit`` slots taken at once; :meth:`acquire` waits for room."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.pending = 0
        self.peak = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def acquire(self, count: int) -> None:
        """Take ``count`` slots, waiting (first come, first served) until they are free."""
        if not 0 < count <= self.limit:
            raise ValueError(f"cannot take {count} slots of {self.limit}")
        if not self._waiters and self.pending + count <= self.limit:
            self._take(count)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((count, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(count)  # granted just as we were cancelled: give it back
            else:
                self._wake()  # we may have been the head blocking smaller waiters
            raise

    def release(self, count: int) -> None:
        """Give back ``count`` slots (a done-callback of the acknowledged send)."""
        self.pending -= count
        self._wake()

    def _take(self, count: int) -> None:
        self.pending += count
        self.peak = max(self.peak, self.pending)

    def _wake(self) -> None:
        while self._waiters:
            count, waiter = self._waiters[0]
            if waiter.done():  # cancelled while waiting
                self._waiters.popleft()
                continue
            if self.pending + count > self.limit:
                return
            self._waiters.popleft()
            self._take(count)
            waiter.set_result(None)
