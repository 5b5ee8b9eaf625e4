"""The faults themselves: each an async function of the :class:`Harness` it acts on.

Services are killed or stopped through their recorded run state and brought back with
the stack manager (``Stack.up`` on that one service), so the pid files that
``riverbed stack status`` and ``down`` read stay true after a fault run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from core.errors import RiverbedError
from core.settings import Settings
from riverbed.chaos.proxy import LatencyProxy
from riverbed.sandbox import Namespace
from riverbed.stack.base import Say, Service
from riverbed.stack.manager import Stack
from riverbed.stack.process import RunState, pid_alive

# A killed worker's partitions move once its session times out: 10 s (the default of
# the setting, pinned here) instead of faust's own 60 s, so five kills cost about a
# minute of stalled partitions rather than five (see RELIABILITY.md).
WORKER_ENV = {"RIVERBED_WORKER_SESSION_TIMEOUT_S": "10"}


class FaultError(RiverbedError):
    """A fault cannot be injected here (e.g. the service is somebody else's server)."""


@dataclass
class Harness:
    """What a fault acts on: the namespace's workers and the local stack's services."""

    settings: Settings
    ns: Namespace
    rng: random.Random
    say: Say
    worker_env: dict[str, str] = field(default_factory=lambda: dict(WORKER_ENV))
    killed: set[int] = field(default_factory=set)  # pids we killed on purpose

    def live_workers(self) -> list[tuple[str, subprocess.Popen[bytes]]]:
        return [
            (kind, p)
            for kind, procs in sorted(self.ns.workers.items())
            for p in procs
            if p.poll() is None
        ]

    def start_worker(self, kind: str) -> subprocess.Popen[bytes]:
        return self.ns.start(kind, self.worker_env)


async def kill_worker(h: Harness) -> str:
    """kill -9 one random worker process, then start a new one of the same kind."""
    live = h.live_workers()
    if not live:
        raise FaultError("no worker is running to kill")
    kind, proc = h.rng.choice(live)
    h.killed.add(proc.pid)
    await asyncio.to_thread(h.ns.kill, proc)
    h.start_worker(kind)
    return f"kill -9 {kind} worker (pid {proc.pid}), started a new one"


async def kill_broker(h: Harness) -> str:
    return await restart_service(h, "kafka", kill=True, down_s=2.0)


async def restart_postgres(h: Harness) -> str:
    return await restart_service(h, "postgres", kill=False, down_s=3.0)


async def restart_ferretdb(h: Harness) -> str:
    return await restart_service(h, "ferretdb", kill=False, down_s=3.0)


async def restart_service(h: Harness, name: str, *, kill: bool, down_s: float) -> str:
    """Stop (or kill -9) one service of the local stack and start it again."""
    stack = Stack(h.settings)
    service = next((s for s in stack.services if s.name == name), None)
    if service is None:  # "kafka" on a data dir that runs a cluster (kafka-1, ...)
        raise FaultError(
            f"this stack has no {name} service ({', '.join(s.name for s in stack.services)}): "
            "on a Kafka cluster run `riverbed chaos --cluster`"
        )
    pid = own_pid(stack, service)
    if pid is None:
        raise FaultError(
            f"{name} at {service.address} was not started by `riverbed stack up` with "
            f"data dir {stack.paths.data}: refusing to stop somebody else's server"
        )
    t0 = time.monotonic()
    if kill:
        await asyncio.to_thread(_kill_9, pid, service.marker)
    else:
        await asyncio.to_thread(service.stop, pid)
    h.say(f"{name}: {'killed -9' if kill else 'stopped'} (pid {pid}); down for {down_s:.0f}s")
    await asyncio.sleep(down_s)
    await Stack(h.settings, [service]).up(lambda m: h.say(f"  {m}"))
    verb = "kill -9" if kill else "restart"
    return f"{verb} {name}: healthy again after {time.monotonic() - t0:.1f}s"


def own_pid(stack: Stack, service: Service) -> int | None:
    """The pid of ``service`` when this data dir's ``stack up`` started it and it runs;
    None for somebody else's server, or one that is down."""
    state = RunState.load(stack.paths.run, service.name)
    if state is None or not state.managed or not pid_alive(state.pid, service.marker):
        return None
    return state.pid


def _kill_9(pid: int, marker: str) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while pid_alive(pid, marker) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # our own child after an earlier restart
        time.sleep(0.1)


@dataclass
class SlowLink:
    """Latency proxies in front of PostgreSQL and the MongoDB-wire server."""

    settings: Settings
    latency_s: float
    proxies: list[LatencyProxy] = field(default_factory=list)

    async def open(self) -> dict[str, str]:
        """Start the proxies (no latency yet); the worker env that points at them."""
        pg = urlsplit(self.settings.postgres_dsn.get_secret_value())
        mongo = urlsplit(self.settings.mongo_uri.get_secret_value())
        pg_proxy = LatencyProxy(pg.hostname or "127.0.0.1", pg.port or 5432)
        mongo_proxy = LatencyProxy(mongo.hostname or "127.0.0.1", mongo.port or 27017)
        self.proxies = [pg_proxy, mongo_proxy]
        pg_port, mongo_port = await pg_proxy.start(), await mongo_proxy.start()
        query = "&".join(q for q in (mongo.query, "directConnection=true") if q)
        return {
            "RIVERBED_POSTGRES_DSN": urlunsplit(pg._replace(netloc=_netloc(pg.netloc, pg_port))),
            "RIVERBED_MONGO_URI": urlunsplit(
                mongo._replace(netloc=_netloc(mongo.netloc, mongo_port), query=query)
            ),
        }

    def set_latency(self, latency_s: float) -> None:
        for p in self.proxies:
            p.latency_s = latency_s

    def delayed_chunks(self) -> dict[str, int]:
        """Chunks held back so far, per database (PostgreSQL, then MongoDB)."""
        if not self.proxies:
            return {}
        pg, mongo = self.proxies
        return {"postgres": pg.delayed_chunks, "mongodb": mongo.delayed_chunks}

    async def close(self) -> None:
        for p in self.proxies:
            await p.close()


def _netloc(netloc: str, port: int) -> str:
    user, at, _ = netloc.rpartition("@")
    return f"{user}{at}127.0.0.1:{port}"
