"""One poller, many pages: the number of reads does not depend on the number of pages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from dashboard.api.live import sse
from dashboard.hub import Hub
from dashboard.poller import Poller

pytestmark = pytest.mark.unit


class FakeSource:
    def __init__(self) -> None:
        self.calls = 0

    async def collect(self) -> dict[str, Any]:
        self.calls += 1
        return {"n": self.calls}


async def run_with_clients(clients: int, cycles: int) -> tuple[FakeSource, list[list[int]]]:
    source, hub = FakeSource(), Hub()
    poller = Poller(source.collect, hub, interval_s=0.01)
    received: list[list[int]] = [[] for _ in range(clients)]

    async def page(i: int) -> None:
        async for data in hub.subscribe():
            received[i].append(json.loads(data)["n"])

    pages = [asyncio.create_task(page(i)) for i in range(clients)]
    await asyncio.sleep(0)  # let every page subscribe
    assert hub.clients == clients
    for _ in range(cycles):
        await poller.poll_once()
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    for task in pages:
        task.cancel()
    await asyncio.gather(*pages, return_exceptions=True)
    assert hub.clients == 0
    return source, received


async def test_fifty_pages_cost_what_one_page_costs() -> None:
    one, one_received = await run_with_clients(1, cycles=20)
    fifty, fifty_received = await run_with_clients(50, cycles=20)
    assert one.calls == fifty.calls == 20
    assert one_received == [list(range(1, 21))]
    assert all(r == list(range(1, 21)) for r in fifty_received)


async def test_a_slow_page_skips_to_the_newest_snapshot() -> None:
    hub = Hub()
    for n in range(5):
        await hub.publish(str(n).encode())
    stream = hub.subscribe()
    assert await anext(stream) == b"4"  # the latest, not a backlog
    await hub.publish(b"5")
    await hub.publish(b"6")
    assert await anext(stream) == b"6"
    await stream.aclose()
    assert hub.clients == 0


async def test_the_poller_keeps_running_when_a_cycle_fails() -> None:
    hub, calls = Hub(), []

    async def flaky() -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database restarting")
        return {"n": len(calls)}

    poller = Poller(flaky, hub, interval_s=0.005)
    poller.start()
    await asyncio.sleep(0.1)
    await poller.stop()
    assert poller.failures == 1
    assert poller.cycles >= 5
    assert hub.latest is not None and json.loads(hub.latest)["n"] >= 5


def test_sse_frame() -> None:
    assert sse(b'{"a":1}') == b'event: snapshot\ndata: {"a":1}\n\n'


async def test_a_slow_source_does_not_hold_back_the_others() -> None:
    from dashboard.snapshot import UNAVAILABLE, SnapshotCollector

    gate, reads = asyncio.Event(), {"fast": 0, "slow": 0}

    async def fast() -> dict[str, Any]:
        reads["fast"] += 1
        return {"n": reads["fast"]}

    async def slow() -> dict[str, Any]:
        reads["slow"] += 1
        await gate.wait()
        return {"n": reads["slow"]}

    async def broken() -> dict[str, Any]:
        raise ConnectionRefusedError("mongodb down")

    collector = SnapshotCollector(
        {"pg": ("postgres", fast), "kafka": ("kafka", slow), "viewing": ("mongodb", broken)},
        interval_s=1.0,
        wait_s=0.05,
    )
    first = await collector.collect()
    assert first["pg"] == {"n": 1, "stale": False}
    assert first["kafka"] == {"stale": True}  # no value yet, read still in flight
    assert first["health"]["mongodb"]["status"] == "down"
    assert first["health"]["mongodb"]["error"] == UNAVAILABLE  # not the exception's text
    second = await collector.collect()
    assert second["pg"]["n"] == 2 and reads["slow"] == 1  # no second read piled on
    gate.set()
    await asyncio.sleep(0)
    third = await collector.collect()
    assert third["kafka"] == {"n": 1, "stale": False} and third["pg"]["n"] == 3
    await collector.close()


async def test_closing_the_hub_ends_every_stream() -> None:
    hub = Hub()
    await hub.publish(b"1")
    got: list[list[bytes]] = [[], []]

    async def page(i: int) -> None:
        async for data in hub.subscribe():
            got[i].append(data)

    pages = [asyncio.create_task(page(i)) for i in range(2)]
    await asyncio.sleep(0)
    await hub.close()
    await asyncio.wait_for(asyncio.gather(*pages), timeout=1)
    assert got == [[b"1"], [b"1"]] and hub.clients == 0
