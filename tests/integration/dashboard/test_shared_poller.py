"""One poller per process: 50 open pages cost the databases what one page does.

The app runs under uvicorn on a real port; pages are real SSE connections. Reads are
counted where they happen (statements on PostgreSQL, operations on MongoDB, requests to
Kafka) and per poll cycle; the cycle rate is the same with 1 and 50 pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from dashboard.components import Dashboard
from tests.integration.dashboard.conftest import Running
from tests.integration.ports import free_ports

pytestmark = pytest.mark.asyncio(loop_scope="session")
PHASE_S = 4.0


@dataclass
class Reads:
    cycles: int
    postgres: int
    mongo: int
    kafka: int

    @classmethod
    def of(cls, d: Dashboard) -> Reads:
        return cls(d.poller.cycles, d.postgres.queries, d.mongo.queries, d.kafka.requests)

    def __sub__(self, other: Reads) -> Reads:
        return Reads(
            self.cycles - other.cycles,
            self.postgres - other.postgres,
            self.mongo - other.mongo,
            self.kafka - other.kafka,
        )


async def until(done: Callable[[], bool], timeout_s: float) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if done():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("condition not met")


async def at_cycle_end(d: Dashboard) -> Reads:
    """The counters right after a snapshot was published, between two cycles."""
    version = d.hub.version
    await until(lambda: d.hub.version > version, 10)
    return Reads.of(d)


async def page(client: httpx.AsyncClient, received: list[int], i: int) -> None:
    async with client.stream("GET", "/api/stream") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                received[i] += 1


async def phase(base: str, d: Dashboard, pages: int) -> tuple[Reads, list[int], int]:
    received = [0] * pages
    limits = httpx.Limits(max_connections=pages + 5)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        tasks = [asyncio.create_task(page(client, received, i)) for i in range(pages)]
        await until(lambda: d.hub.clients == pages, 20)
        before, t0 = await at_cycle_end(d), time.monotonic()
        await asyncio.sleep(PHASE_S - 0.5)
        reads, peak = await at_cycle_end(d) - before, d.hub.clients
        assert time.monotonic() - t0 < PHASE_S + 1.5
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return reads, received, peak


async def test_fifty_pages_cost_the_databases_what_one_page_does(running: Running) -> None:
    from dashboard import create_app

    app = create_app(running.settings)
    d: Dashboard = app.state.dashboard
    (port,) = free_ports(1)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    try:
        await until(lambda: d.hub.version >= 2, 30)  # started, a first full poll done
        base = f"http://127.0.0.1:{port}"
        one, one_received, _ = await phase(base, d, 1)
        fifty, fifty_received, peak = await phase(base, d, 50)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(serving, timeout=15)

    assert peak == 50
    # Same cadence: one poll a second whatever the number of pages.
    assert abs(fifty.cycles - one.cycles) <= 1, (one, fifty)
    assert one.cycles >= PHASE_S - 1
    # Same reads per cycle on every store (the data did not change between phases):
    # at most one full read per cycle, whatever the number of pages.
    for store, most in (("postgres", 6), ("mongo", 2), ("kafka", 12)):
        per_one = getattr(one, store) / one.cycles
        per_fifty = getattr(fifty, store) / fifty.cycles
        assert per_fifty <= most, (store, one, fifty)
        assert per_fifty == pytest.approx(per_one, rel=0.25), (store, one, fifty)
    # ... and every page got the snapshots.
    assert min(one_received) >= PHASE_S - 1
    assert min(fifty_received) >= PHASE_S - 1, fifty_received
