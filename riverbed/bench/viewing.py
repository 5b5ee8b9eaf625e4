"""The viewing worker over a long run, and the read API over what it stored.

Does the cost per event stay flat as the data grows? The long run pre-loads N playback
events into a fresh namespace (generated and sent in chunks, before the worker starts, so
the generator does not share the CPU with it), starts one viewing worker and samples its
applied-events counter. The *late/early rate* is the rate over the last 10 % of the events
divided by the rate over the first 10 % (flat: 1.0; the old design fell as its scans grew).

Then the read API (the dashboard's FastAPI app, in process) answers a user's sessions and
recommendations for users drawn from the stream, one request at a time: p99 in ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from dataclasses import dataclass

import httpx

from core.settings import Settings
from dashboard.app import create_app
from producers.simulators.simulation import Simulation
from riverbed.bench.feed import flood, records
from riverbed.bench.latency import percentiles
from riverbed.bench.processors import _check_alive, processed_count
from riverbed.sandbox import Namespace

CHUNK = 25_000  # events generated, encoded and sent at a time: bounded memory
SAMPLE_S = 0.2


@dataclass(frozen=True)
class LongRun:
    events: int
    rate: float  # ev/s from the first applied batch to the last
    early: float  # ev/s over the first 10 % of the events
    late: float  # ev/s over the last 10 %
    users: tuple[str, ...]

    @property
    def late_over_early(self) -> float:
        return self.late / self.early


async def preload(ns: Namespace, count: int, seed: int = 5) -> tuple[str, ...]:
    """``count`` viewing events into the namespace's topic; the users they name."""
    stream = Simulation(seed, {"viewing": 1}).events()
    users: set[str] = set()
    sent = 0
    while sent < count:
        chunk = list(itertools.islice(stream, min(CHUNK, count - sent)))
        users.update(e.payload.user_id for e in chunk)
        await flood(ns, records(ns, chunk))
        sent += len(chunk)
    return tuple(sorted(users))


def crossing(series: list[tuple[float, int]], target: float) -> float:
    """The time the counter reached ``target``, interpolated between two samples."""
    for (t0, n0), (t1, n1) in itertools.pairwise(series):
        if n1 >= target:
            return t0 if n1 == n0 else t0 + (t1 - t0) * (target - n0) / (n1 - n0)
    raise ValueError(f"the counter never reached {target}")


def rates(series: list[tuple[float, int]], total: int) -> tuple[float, float, float]:
    """(overall, first 10 %, last 10 %) rates of a counter that went from 0 to ``total``.

    The clock starts at the last sample before the counter moved, so joining the group is
    not counted but the first batch (read, applied, counted at once) is.
    """
    start = max(t for t, n in series if n == 0)
    moved = [(t, n) for t, n in series if t >= start]
    tenth = total / 10
    first = crossing(moved, tenth) - start
    last = crossing(moved, total) - crossing(moved, total - tenth)
    overall = crossing(moved, total) - start
    return total / overall, tenth / first, tenth / max(last, 1e-9)


async def long_run(
    ns: Namespace, port: int, count: int, users: tuple[str, ...], wait_s: float
) -> LongRun:
    """Sample a just-started worker's counter until it applied the ``count`` pre-loaded."""
    series: list[tuple[float, int]] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        async with asyncio.timeout(wait_s):
            while not series or series[-1][1] < count:
                _check_alive(ns)
                with contextlib.suppress(httpx.TransportError):  # /metrics not up yet
                    series.append((time.monotonic(), await processed_count(client)))
                await asyncio.sleep(SAMPLE_S)
    overall, early, late = rates(series, count)
    return LongRun(count, overall, early, late, users)


async def read_p99(
    settings: Settings, ns: Namespace, users: tuple[str, ...], requests: int
) -> dict[str, float]:
    """p99 (ms) of each read endpoint, over ``requests`` users drawn at random."""
    local = settings.model_copy(
        update={
            "topic_prefix": ns.prefix,
            "group_prefix": f"t{ns.uid}",
            "postgres_schema": ns.schema,
            "mongo_db": ns.mongo_db,
        }
    )
    app = create_app(local)
    rng = random.Random(7)  # noqa: S311 (a reproducible sample of users, not a secret)
    found: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for path in ("sessions", "recommendations"):
                timings: list[float] = []
                for user in (rng.choice(users) for _ in range(requests)):
                    t0 = time.perf_counter()
                    response = await client.get(f"/api/users/{user}/{path}")
                    timings.append((time.perf_counter() - t0) * 1000)
                    if response.status_code != 200:  # every user drawn has sessions
                        raise RuntimeError(f"/api/users/{user}/{path}: {response.status_code}")
                found[path] = percentiles(timings)[99]
    return found
