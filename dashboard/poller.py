"""The one background task per process that reads the system and feeds the hub.

Every ``interval_s`` it awaits ``collect()`` (one read of Kafka, PostgreSQL and MongoDB),
serializes the snapshot once and publishes it. Pages never trigger reads: a hundred open
pages cost the databases what one does. A failed cycle is logged and retried on the
next tick; it never ends the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic_core import to_json

from dashboard.hub import Hub

log = logging.getLogger("riverbed.dashboard.poller")
Collect = Callable[[], Awaitable[dict[str, Any]]]


class Poller:
    def __init__(
        self,
        collect: Collect,
        hub: Hub,
        *,
        interval_s: float,
        on_cycle: Callable[[float], None] | None = None,
    ) -> None:
        self._collect = collect
        self._hub = hub
        self.interval_s = interval_s
        self._on_cycle = on_cycle
        self._task: asyncio.Task[None] | None = None
        self.cycles = 0
        self.failures = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="dashboard-poller")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            await self.poll_once()
            # Fixed-rate ticks: a slow cycle delays the next one, never piles them up.
            next_at = max(next_at + self.interval_s, loop.time())
            await asyncio.sleep(next_at - loop.time())

    async def poll_once(self) -> None:
        t0 = time.monotonic()
        try:
            snapshot = await self._collect()
            await self._hub.publish(to_json(snapshot))
        except Exception:
            self.failures += 1
            log.exception("dashboard poll failed")
        self.cycles += 1
        if self._on_cycle is not None:
            self._on_cycle(time.monotonic() - t0)
