"""Jaeger's place in the stack: a build of minutes is started, never waited for."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from core.settings import Settings
from riverbed.stack import jaeger as jaeger_module
from riverbed.stack.manager import Stack
from riverbed.stack.process import pid_alive, spawn
from tests.integration.ports import free_ports

pytestmark = pytest.mark.unit


def test_a_jaeger_still_to_build_is_started_and_not_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ui_port, otlp_port = free_ports(2)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",  # nothing built here
        jaeger_url=f"http://127.0.0.1:{ui_port}",
        jaeger_otlp_port=otlp_port,
    )
    stack = Stack(settings)
    stack.services = [s for s in stack.services if s.name == "jaeger"]
    (service,) = stack.services
    assert isinstance(service, jaeger_module.Jaeger) and service.starts_later

    def start(self: jaeger_module.Jaeger, say: object) -> int:
        # Stands in for the builder: a long-running process named like it.
        return spawn(["sh", "-c", "sleep 60; echo jaeger"], log_file=self.log_file)

    monkeypatch.setattr(jaeger_module, "require_tool", lambda *_a, **_k: "go")
    monkeypatch.setattr(jaeger_module.Jaeger, "start", start)
    said: list[str] = []
    t0 = time.monotonic()
    (row,) = asyncio.run(stack.up(said.append))
    try:
        assert time.monotonic() - t0 < 5  # the stack's start timeout is 120 s
        assert row.state == "building" and row.pid is not None
        assert pid_alive(row.pid, service.marker)
        config = service.config_file.read_text()
        assert f'endpoint: "127.0.0.1:{service.port}"' in config  # the query API
        assert f'endpoint: "127.0.0.1:{settings.jaeger_otlp_port}"' in config  # OTLP/HTTP
        # A second `up` leaves the build alone.
        (again,) = asyncio.run(stack.up(said.append))
        assert again.pid == row.pid and again.state == "building"
        assert any("still building" in m for m in said), said
        (status,) = asyncio.run(stack.status())
        assert status.state == "building"
    finally:
        asyncio.run(stack.down(said.append))
    assert not pid_alive(row.pid, service.marker)
