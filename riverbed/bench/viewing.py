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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from core.settings import Settings
from dashboard.app import create_app
from processors.viewing import index
from processors.viewing.state import restore
from producers.simulators.simulation import Simulation
from riverbed.bench.children import child_env, cpu_seconds
from riverbed.bench.feed import flood, records
from riverbed.bench.latency import percentiles
from riverbed.bench.processors import _check_alive, processed_count
from riverbed.sandbox import Namespace
from schemas import Envelope

CHUNK = 25_000  # events generated, encoded and sent at a time: bounded memory
SAMPLE_S = 0.2


@dataclass(frozen=True)
class LongRun:
    events: int
    rate: float  # ev/s from the first applied batch to the last
    early: float  # ev/s over the first 10 % of the events
    late: float  # ev/s over the last 10 %
    users: tuple[str, ...]
    cpu_early_us: float  # the worker's CPU-us per event over the first 10 %
    cpu_late_us: float  # ... and over the last 10 %

    @property
    def late_over_early(self) -> float:
        return self.late / self.early


def viewing_stream(seed: int = 5) -> Iterator[Envelope[Any]]:
    return Simulation(seed, {"viewing": 1}).events()


async def preload(ns: Namespace, count: int, stream: Iterator[Envelope[Any]]) -> tuple[str, ...]:
    """The next ``count`` events of ``stream`` into the namespace's topic; their users."""
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


def value_at(series: list[tuple[float, float]], at: float) -> float:
    """A sampled value at time ``at``, interpolated between the samples around it."""
    for (t0, v0), (t1, v1) in itertools.pairwise(series):
        if t0 <= at <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (at - t0) / (t1 - t0)
    raise ValueError(f"no sample around {at}")


def clock_start(series: list[tuple[float, int]], total: int) -> tuple[float, int]:
    """(time, count) where the clock starts: the last sample before the counter moved.

    A worker that joins its group quickly may apply its first batch before the first
    sample answers (seen in CI: the first sample already read 1,000+). The clock then
    starts at that first sample and only the events applied after it are counted, so the
    rate never includes a batch whose start was not seen.
    """
    if not series:
        raise ValueError("the worker's counter was never sampled")
    base = series[0][1]
    if base >= total:
        raise ValueError(f"the worker applied all {total} events before the first sample")
    start = max(t for t, n in series if n == base)
    return start, base


def cpu_per_event(
    series: list[tuple[float, int]], cpu: list[tuple[float, float]], total: int
) -> tuple[float, float]:
    """The worker's CPU-us per event over the first and the last 10 % of the events."""
    start, base = clock_start(series, total)
    moved = [(t, n) for t, n in series if t >= start]
    tenth = (total - base) / 10
    marks = [
        start,
        crossing(moved, base + tenth),
        crossing(moved, total - tenth),
        crossing(moved, total),
    ]
    used = [value_at(cpu, t) for t in marks]
    return (used[1] - used[0]) / tenth * 1e6, (used[3] - used[2]) / tenth * 1e6


def rates(series: list[tuple[float, int]], total: int) -> tuple[float, float, float]:
    """(overall, first 10 %, last 10 %) rates of a counter that went up to ``total``.

    The clock starts at the last sample before the counter moved (:func:`clock_start`),
    so joining the group is not counted but the first batch (read, applied, counted at
    once) is.
    """
    start, base = clock_start(series, total)
    moved = [(t, n) for t, n in series if t >= start]
    tenth = (total - base) / 10
    first = crossing(moved, base + tenth) - start
    last = crossing(moved, total) - crossing(moved, total - tenth)
    overall = crossing(moved, total) - start
    return (total - base) / overall, tenth / first, tenth / max(last, 1e-9)


async def long_run(
    ns: Namespace, port: int, count: int, users: tuple[str, ...], wait_s: float
) -> LongRun:
    """Sample a just-started worker's counter until it applied the ``count`` pre-loaded."""
    series: list[tuple[float, int]] = []
    cpu: list[tuple[float, float]] = []
    [worker] = ns.workers["viewing"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        async with asyncio.timeout(wait_s):
            while not series or series[-1][1] < count:
                _check_alive(ns)
                with contextlib.suppress(httpx.TransportError):  # /metrics not up yet
                    n = await processed_count(client)
                    now = time.monotonic()
                    series.append((now, n))
                    cpu.append((now, cpu_seconds(worker.pid)))
                await asyncio.sleep(SAMPLE_S)
    overall, early, late = rates(series, count)
    return LongRun(count, overall, early, late, users, *cpu_per_event(series, cpu, count))


async def restore_all(ns: Namespace) -> tuple[float, int, int]:
    """Seconds to reload and fold every stored open session, as a restarted worker does
    (it loads each session when it first meets it); and how many sessions and rows."""
    conn = await ns.owner()
    try:
        t0 = time.perf_counter()
        ids = [
            r[0] for r in await conn.fetch("select distinct session_id from viewing_session_marks")
        ]
        rows, closed = await index.load_states(conn, ids)
        restored = [restore(sid, rs, 0.0) for sid, rs in rows.items() if sid not in closed]
        return time.perf_counter() - t0, len(restored), sum(len(r) for r in rows.values())
    finally:
        await conn.close()


async def after_kill(
    ns: Namespace, port: int, count: int, stream: Iterator[Envelope[Any]], wait_s: float
) -> LongRun:
    """kill -9 the worker, pre-load ``count`` more events, start a new worker: its rate,
    which includes reloading every session it meets from the stored state."""
    for worker in ns.workers.pop("viewing"):  # killed on purpose: not a failure to report
        ns.kill(worker)
    users = await preload(ns, count, stream)
    ns.start("viewing", {**child_env(ns.settings), "RIVERBED_METRICS_PORT": str(port - 2)})
    return await long_run(ns, port, count, users, wait_s)


async def read_p99(
    settings: Settings, ns: Namespace, users: tuple[str, ...], requests: int
) -> dict[str, float]:
    """p99 (ms) of each read endpoint, over ``requests`` users drawn at random."""
    app = create_app(ns.local_settings())
    rng = random.Random(7)  # noqa: S311 (a reproducible sample of users, not a secret)
    found: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        # 127.0.0.1: a Host the read side's TrustedHost check allows.
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
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
