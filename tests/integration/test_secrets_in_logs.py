"""Secrets never reach a log line: the demo at DEBUG in text and JSON, and the error paths.

``riverbed demo`` runs as a subprocess in a namespace of its own (topics, groups, schema,
Mongo database, ports, data dir), with a distinctive gateway key and every process at
DEBUG. The database passwords are the real ones (the roles are shared by everyone using
the stack), so the check looks for them wherever they could show: whole DSNs, ``:pw@``,
and the bare password when it is not an ordinary word of the logs (the app role's
development password is the project's name). Then the error paths: requests with a wrong
API key, and a worker and a dashboard started with wrong, distinctive, passwords.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import pytest
from pydantic import SecretStr

from core.settings import Settings
from processors.kinds import KINDS
from riverbed.sandbox import Namespace
from tests.integration.ports import consecutive_free_ports, free_ports

# The demo runs this long, its viewing worker retraining the recommender every
# RETRAIN_S, so that the retraining path runs and its logs are scanned too (35 s instead
# of the 70 s that one retrain at the demo's own minute needed: the suite is near its
# 15-minute budget).
DEMO_SECONDS = 35
RETRAIN_S = "10"
FORMATS = ["text", "json"]


def with_password(dsn: SecretStr, password: str) -> str:
    parts = urlsplit(dsn.get_secret_value())
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{host}"))


def secret_strings(settings: Settings, *extra: str) -> list[str]:
    """Every form in which a configured secret could leak into a line."""
    found = [*extra]
    for dsn in (
        settings.postgres_dsn,
        settings.postgres_owner_dsn,
        settings.postgres_reader_dsn,
        settings.mongo_uri,
    ):
        raw = dsn.get_secret_value()
        parts = urlsplit(raw)
        if not parts.password:
            continue
        password = unquote(parts.password)
        found += [raw, f":{parts.password}@", f":{password}@", f"password={password}"]
        ordinary = {"riverbed", parts.username or "", parts.path.lstrip("/")}
        if password not in ordinary:
            found.append(password)
    return sorted(set(found))


def leaks(text: str, secret_values: list[str]) -> list[str]:
    return [
        f"{value[:4]}…: {line[:200]}"
        for line in text.splitlines()
        for value in secret_values
        if value in line
    ]


def logs_under(*paths: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for root in paths:
        files = [root] if root.is_file() else sorted(root.rglob("*.log"))
        for path in files:
            if path.is_file():
                out[str(path)] = path.read_text(errors="replace")
    return out


def base_env(ns: Namespace, data_dir: Path, log_format: str) -> dict[str, str]:
    return {
        **os.environ,
        **ns.env,
        "RIVERBED_LOG_LEVEL": "DEBUG",
        "RIVERBED_LOG_FORMAT": log_format,
        "RIVERBED_RECS_RETRAIN_S": RETRAIN_S,
        "RIVERBED_DATA_DIR": str(data_dir),
        "RIVERBED_GATEWAY_KEYS_FILE": str(data_dir / "api-keys.json"),
        "RIVERBED_POSTGRES_DSN": ns.settings.postgres_dsn.get_secret_value(),
        "RIVERBED_POSTGRES_OWNER_DSN": ns.settings.postgres_owner_dsn.get_secret_value(),
        "RIVERBED_POSTGRES_READER_DSN": ns.settings.postgres_reader_dsn.get_secret_value(),
        "PYTHONUNBUFFERED": "1",
    }


async def wait_for(url: str, *, seconds: float, status: int = 200) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=3) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code == status:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise AssertionError(f"{url} not ready in {seconds:.0f}s")


async def count(ns: Namespace, sql: str) -> int:
    conn = await ns.owner()
    try:
        value: int = await conn.fetchval(sql)
        return value
    finally:
        await conn.close()


@pytest.fixture
def processes() -> Iterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for proc in started:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)  # each leads its own process group


async def spawn(
    started: list[asyncio.subprocess.Process], out: Path, env: dict[str, str], *args: str
) -> asyncio.subprocess.Process:
    with out.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "riverbed",
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    started.append(proc)
    return proc


@dataclass
class Demo:
    """One format's demo: its namespace, keys and files, and the task that runs it."""

    ns: Namespace
    data_dir: Path
    out: Path
    api_key: str
    wrong_key: str
    ports: list[int]  # the gateway's, the dashboard's, then the workers' metrics run
    run: asyncio.Task[None] | None = None


async def run_demo(demo: Demo, log_format: str, started: list[asyncio.subprocess.Process]) -> None:
    """Start ``riverbed demo``, check it live (wrong keys refused, orders decided, the read
    API answers), then wait until it exits 0. Its assertions fail the test that awaits it."""
    gateway_port, dashboard_port, metrics_port = demo.ports[:3]
    gateway = f"http://127.0.0.1:{gateway_port}"
    dashboard = f"http://127.0.0.1:{dashboard_port}"
    env = {
        **base_env(demo.ns, demo.data_dir, log_format),
        "RIVERBED_GATEWAY_API_KEY": demo.api_key,
        "RIVERBED_GATEWAY_PORT": str(gateway_port),
        "RIVERBED_GATEWAY_URL": gateway,
        "RIVERBED_DASHBOARD_PORT": str(dashboard_port),
        # Its own: the demo's default (the first free run from 9100) is the same for two
        # demos starting at once.
        "RIVERBED_METRICS_PORT": str(metrics_port),
    }
    proc = await spawn(
        started, demo.out, env, "demo", "--duration", str(DEMO_SECONDS), "--rate", "40"
    )
    try:
        await wait_for(f"{gateway}/readyz", seconds=90)
        async with httpx.AsyncClient(timeout=10) as client:
            # Wrong keys: refused, and the refusal echoes nothing of them.
            for headers in (
                {"X-API-Key": demo.wrong_key},
                {"Authorization": f"Bearer {demo.wrong_key}"},
            ):
                r = await client.post(f"{gateway}/v1/events", headers=headers, json={})
                assert r.status_code == 401, r.text
                assert demo.wrong_key not in r.text
            # The workers decide orders in the namespace's schema.
            deadline = time.monotonic() + DEMO_SECONDS
            while time.monotonic() < deadline:
                decided = await count(
                    demo.ns, "select count(*) from orders where status in ('confirmed', 'rejected')"
                )
                if decided:
                    break
                await asyncio.sleep(1)
            assert decided, "no order was decided during the demo"
            # The read API, as the reader role.
            await wait_for(f"{dashboard}/healthz", seconds=30)
            conn = await demo.ns.owner()
            try:
                order_id = await conn.fetchval("select order_id from orders limit 1")
            finally:
                await conn.close()
            r = await client.get(f"{dashboard}/api/orders/{order_id}")
            assert r.status_code == 200, r.text
        async with asyncio.timeout(DEMO_SECONDS + 90):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)


@pytest.fixture(scope="module")
async def demos(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[dict[str, Demo]]:
    """Both formats' demos at once, each in a namespace of its own: a demo is a fixed
    DEMO_SECONDS run that mostly waits (40 events/s), so the two overlap. Measured on the
    shared 2-core machine: 38.6 + 39.3 s one after the other in the suite, 37.7 + 7.2 s
    together (the second test only reads the logs of its finished demo). Only the formats
    selected in this session run."""
    selected = {
        item.callspec.params["log_format"]
        for item in request.session.items
        if item.module is request.module
        and item.originalname == "test_demo_at_debug_logs_no_secret"  # type: ignore[attr-defined]
    }
    formats = [f for f in FORMATS if f in selected]
    started: list[asyncio.subprocess.Process] = []
    runs: dict[str, Demo] = {}
    # One consecutive run of ports for both demos (so no two pick the same): the gateway,
    # the dashboard and one metrics port per worker kind (metrics_port + the kind's index).
    per_demo = 2 + len(KINDS)
    ports = consecutive_free_ports(per_demo * len(formats))
    try:
        for n, log_format in enumerate(formats):
            tmp = tmp_path_factory.mktemp(f"demo-{log_format}")
            ns = Namespace(settings, uuid.uuid4().hex[:10], tmp)
            runs[log_format] = Demo(
                ns,
                tmp / "data",
                tmp / "demo.out",
                f"rbk-{secrets.token_hex(16)}",
                f"rbk-wrong-{secrets.token_hex(12)}",
                ports[per_demo * n : per_demo * (n + 1)],
            )
            await ns.create()
        for log_format, demo in runs.items():
            demo.run = asyncio.create_task(run_demo(demo, log_format, started))
        yield runs
    finally:
        tasks = [d.run for d in runs.values() if d.run is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for proc in started:
            if proc.returncode is None:
                os.killpg(proc.pid, signal.SIGKILL)  # each leads its own process group
        for demo in runs.values():
            print(demo.ns.logs())
            await demo.ns.drop()


@pytest.mark.timeout(290)
@pytest.mark.parametrize("log_format", FORMATS)
async def test_demo_at_debug_logs_no_secret(demos: dict[str, Demo], log_format: str) -> None:
    demo = demos[log_format]
    assert demo.run is not None
    await demo.run  # the live checks' failures surface here

    logs = logs_under(demo.out, demo.data_dir / "logs")
    names = {Path(name).name for name in logs}
    assert {"workers.log", "gateway.log", "dashboard.log", "simulator.log"} <= names, names
    assert {"worker-orders.log", "worker-inventory.log", "worker-viewing.log"} <= names, names
    text = "\n".join(logs.values())
    # It did work, and logged at DEBUG in the chosen format.
    sent = [int(n.replace(",", "")) for n in re.findall(r"sent ([\d,]+)", text)]
    assert sent and max(sent) > 0, "the simulator sent nothing"
    assert "DEBUG" in text
    if log_format == "json":
        assert re.search(r'^\{"ts": ".*"level": "DEBUG"', text, re.MULTILINE)
    secret_values = secret_strings(demo.ns.settings, demo.api_key, demo.wrong_key)
    assert leaks(text, secret_values) == []


@pytest.mark.timeout(200)
@pytest.mark.parametrize("log_format", FORMATS)
async def test_wrong_database_passwords_are_not_echoed(
    ns: Namespace,
    tmp_path: Path,
    log_format: str,
    processes: list[asyncio.subprocess.Process],
) -> None:
    wrong_app = f"Wr0ng-app-{secrets.token_hex(8)}"
    wrong_reader = f"Wr0ng-reader-{secrets.token_hex(8)}"
    (dashboard_port,) = free_ports(1)
    env = {
        **base_env(ns, tmp_path / "data", log_format),
        "RIVERBED_POSTGRES_DSN": with_password(ns.settings.postgres_dsn, wrong_app),
        "RIVERBED_POSTGRES_READER_DSN": with_password(
            ns.settings.postgres_reader_dsn, wrong_reader
        ),
        "RIVERBED_DASHBOARD_PORT": str(dashboard_port),
    }
    worker_out, dashboard_out = tmp_path / "worker.out", tmp_path / "dashboard.out"
    worker = await spawn(processes, worker_out, env, "worker", "orders")
    dashboard = await spawn(processes, dashboard_out, env, "dashboard")
    refused = re.compile(r"InvalidPasswordError|password authentication failed")
    try:
        base = f"http://127.0.0.1:{dashboard_port}"
        await wait_for(f"{base}/healthz", seconds=60)
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.get(f"{base}/api/orders/o-1")
        assert r.status_code == 500, r.text
        assert wrong_reader not in r.text and "password" not in r.text.lower()
        # The worker's outbox relay opens its pool at start and every few seconds.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if refused.search(worker_out.read_text(errors="replace")):
                break
            if worker.returncode is not None:
                break
            await asyncio.sleep(1)
    finally:
        for proc in (worker, dashboard):
            if proc.returncode is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (worker, dashboard):
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
    worker_log = worker_out.read_text(errors="replace")
    dashboard_log = dashboard_out.read_text(errors="replace")
    assert refused.search(worker_log), worker_log[-3000:]
    assert refused.search(dashboard_log), dashboard_log[-3000:]
    text = worker_log + dashboard_log
    secret_values = secret_strings(ns.settings, wrong_app, wrong_reader)
    assert leaks(text, secret_values) == []
