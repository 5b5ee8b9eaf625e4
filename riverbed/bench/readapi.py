"""The dashboard's read API as a user meets it: its own process, over HTTP.

``DashboardProcess`` runs ``python -m dashboard`` (uvicorn, the poller running, as
``riverbed dashboard`` does) over a namespace on a free local port, and the benchmark
times requests from its own process through one keep-alive connection, one request at a
time. In process (httpx's ASGI transport) the client's work and the server's shared one
event loop and the request never crossed a socket; here the figure is the user's: TCP,
HTTP parsing, the app, and the databases.

The client is aiohttp's: the client shares the machine's two cores with the server, so
its own CPU is part of every figure. Measured per blended-recommendations request, body
decoded: httpx 2.1-2.4 ms of client CPU, aiohttp 0.7-0.8 ms (p50 6.8-8.4 against
4.9-5.8 ms, same server, alternating rounds).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from types import TracebackType

import aiohttp

from riverbed.bench.children import child_env, free_port
from riverbed.sandbox import Namespace

WARMUP = 20  # requests per path not timed: the pool's connections open, statements prepare


class DashboardProcess:
    """``python -m dashboard`` over ``ns`` on a free port; stderr and stdout to ``log``."""

    def __init__(self, ns: Namespace, log: Path) -> None:
        self.ns = ns
        self.log = log
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> DashboardProcess:
        env = {**os.environ, **self.ns.env, **child_env(self.ns.settings)}
        args = ["-m", "dashboard", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *args, env=env, stdout=out, stderr=out
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def client(self) -> aiohttp.ClientSession:
        """One keep-alive connection, as a user's client holds it."""
        return aiohttp.ClientSession(
            self.base_url,
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def wait_ready(self, client: aiohttp.ClientSession, wait_s: float = 60) -> None:
        """Until ``/readyz`` answers 200, as a load balancer would route traffic: the
        first poll reached Kafka, PostgreSQL and MongoDB, so the start-up's work (imports,
        consumers joining) is over. The stores' pool still opens on first use: the
        warm-up requests pay for it."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.returncode is not None:
                raise RuntimeError(f"the dashboard process exited; see {self.log}")
            try:
                async with client.get("/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the dashboard was not ready within {wait_s:.0f} s; see {self.log}")
