"""The HTTP gateway in a subprocess, for the publisher benchmark.

    python -m riverbed.bench.gateway PORT TOPICS_JSON   # what GatewayProcess runs

The child serves ``producers.gateway`` with one uvicorn worker, publishing to the
benchmark's own topics, with a bootstrap key and no rate limit.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time

import httpx

from core.settings import Settings
from riverbed.bench.children import child_env, cpu_seconds, free_port

GATEWAY_ENV = {"RIVERBED_GATEWAY_RATE_PER_S": "1e9", "RIVERBED_GATEWAY_RATE_BURST": str(10**9)}


class GatewayProcess:
    """``producers.gateway`` served in a child process on a free local port."""

    def __init__(self, settings: Settings, topics: dict[str, str]) -> None:
        self.settings = settings
        self.topics = topics
        self.port, self.key = free_port(), secrets.token_urlsafe(24)
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> GatewayProcess:
        env = {
            **os.environ,
            **child_env(self.settings),
            **GATEWAY_ENV,
            "RIVERBED_GATEWAY_API_KEY": self.key,
        }
        args = ["-m", "riverbed.bench.gateway", str(self.port), json.dumps(self.topics)]
        self.process = await asyncio.create_subprocess_exec(sys.executable, *args, env=env)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def client(self) -> httpx.AsyncClient:
        headers = {"X-API-Key": self.key, "Content-Type": "application/json"}
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=60
        )

    async def wait_ready(self, client: httpx.AsyncClient, wait_s: float = 60) -> None:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.returncode is not None:
                raise RuntimeError("the gateway process exited")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the gateway did not become ready within {wait_s:.0f} s")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)


def serve(port: int, topics: dict[str, str]) -> None:
    from core.settings import get_settings
    from producers.gateway import create_app
    from producers.gateway.server import serve as serve_app
    from producers.gateway.server import server_config
    from producers.publisher import Publisher

    settings = get_settings()
    app = create_app(settings, publisher=Publisher(settings, topics=topics))
    serve_app(server_config(app, host="127.0.0.1", port=port, log_level="warning"))


if __name__ == "__main__":
    serve(int(sys.argv[1]), json.loads(sys.argv[2]))
