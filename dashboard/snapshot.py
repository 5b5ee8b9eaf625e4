"""One snapshot of the whole system: every source read at once, none waited on for long.

Each poll starts a read of every source that has none in flight and waits at most
``wait_s`` for them. A read that takes longer keeps running and its part of the
snapshot keeps its last value until it lands, so one slow store never delays the
others (the page shows PostgreSQL's counts at most one interval plus their own query
time old) and never gets a second read piled on top. A service is ``pending`` until
its first read lands. A read that fails or exceeds ``timeout_s`` marks its service
``down``; its last good part is kept, marked stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("riverbed.dashboard.snapshot")
Sample = Callable[[], Awaitable[dict[str, Any]]]
UNAVAILABLE = "not answering (details in the dashboard's log)"
Result = tuple[dict[str, Any], float, str | None]  # value, milliseconds, error

SERVICES = ("kafka", "postgres", "mongodb")


class SnapshotCollector:
    def __init__(
        self,
        parts: Mapping[str, tuple[str, Sample]],
        *,
        interval_s: float,
        wait_s: float | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        """``parts``: name -> (the service whose health it tells, its read)."""
        self._parts = dict(parts)
        self._interval_s = interval_s
        self._wait_s = interval_s / 2 if wait_s is None else wait_s
        self._timeout_s = timeout_s
        self._inflight: dict[str, asyncio.Task[Result]] = {}
        self._results: dict[str, Result] = {}
        self._last_good: dict[str, dict[str, Any]] = {}

    async def collect(self) -> dict[str, Any]:
        for name, (_service, sample) in self._parts.items():
            if name not in self._inflight:
                self._inflight[name] = asyncio.create_task(self._timed(sample))
        await asyncio.wait(self._inflight.values(), timeout=self._wait_s)
        for name, task in list(self._inflight.items()):
            if task.done():
                del self._inflight[name]
                self._results[name] = task.result()
        health: dict[str, dict[str, Any]] = {
            s: {"status": "up", "ms": 0.0, "error": None} for s in SERVICES
        }
        snapshot: dict[str, Any] = {}
        for name, (service_name, _sample) in self._parts.items():
            value, ms, error = self._results.get(name, ({}, 0.0, None))
            service = health[service_name]
            service["ms"] = round(max(service["ms"], ms), 1)
            if name not in self._results:  # first read still in flight
                if service["status"] == "up":
                    service["status"] = "pending"
                snapshot[name] = {"stale": True}
            elif error is None:
                self._last_good[name] = value
                snapshot[name] = {**value, "stale": False}
            else:
                service["status"], service["error"] = "down", error
                snapshot[name] = {**self._last_good.get(name, {}), "stale": True}
        now = datetime.now(UTC)
        return {
            "at": now.isoformat(timespec="milliseconds"),
            "t": now.timestamp(),
            "interval_s": self._interval_s,
            "health": health,
            **snapshot,
        }

    async def close(self) -> None:
        for task in self._inflight.values():
            task.cancel()
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        self._inflight.clear()

    async def _timed(self, sample: Sample) -> Result:
        t0 = time.monotonic()
        try:
            value = await asyncio.wait_for(sample(), timeout=self._timeout_s)
        except Exception as exc:
            # Every viewer gets the snapshot: the details (addresses, names) stay in the log.
            log.warning("dashboard source failed: %s: %s", type(exc).__name__, exc)
            return {}, (time.monotonic() - t0) * 1000, UNAVAILABLE
        return value, (time.monotonic() - t0) * 1000, None
