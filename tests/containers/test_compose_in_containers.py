"""docker-compose.yml's app services, built from the repository's Dockerfile and run as
real containers (podman, runc) against the local stack: ``make containers``.

No image registry is reachable here, so the Dockerfile is built on stand-in Debian
bookworm bases (tests/containers/podman.py) and Kafka, PostgreSQL and MongoDB are the
local stack's, not the official images; everything else (commands, environment, user,
read-only root, volumes, secrets, healthchecks, restart policies, start order) comes from
docker-compose.yml through tests/containers/compose.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from core.settings import Settings
from processors.kinds import KINDS
from riverbed.sandbox import Namespace
from stores.postgres.pool import quote_ident
from tests.containers import compose, podman
from tests.integration.ports import consecutive_free_ports

# The first test's set-up builds the bases and the image: about 3.5 min when nothing is
# cached (BENCHMARKS.md), past pytest-timeout's 300 s default on a slower mirror.
pytestmark = [pytest.mark.containers, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "artifacts" / "containers.json"
IMAGE = "localhost/riverbed:container-test"
PROFILES = {"demo"}  # the simulator's profile: run everything compose can run


def _app_services(spec: dict[str, Any]) -> set[str]:
    return {
        name
        for name, service in spec["services"].items()
        if "build" in service and set(service.get("profiles") or PROFILES) & PROFILES
    }


def _ports(spec: dict[str, Any], apps: set[str]) -> dict[int, int]:
    """compose port -> free host port: every port an app service publishes, and the
    block of workers' metrics ports."""
    published = [
        int(str(entry).split("/")[0].rsplit(":", 1)[-1])
        for name in sorted(apps)
        for entry in spec["services"][name].get("ports") or []
    ]
    metrics = {
        int(compose.environment(spec["services"][n]).get("RIVERBED_METRICS_PORT", 0)) for n in apps
    }
    assert len(metrics) == 1, f"app services disagree on RIVERBED_METRICS_PORT: {metrics}"
    base = metrics.pop()
    assert base, "RIVERBED_METRICS_PORT is off: workers would have no healthcheck to answer"
    # One draw, so no two ports are the same; the metrics block (orders +0, inventory +1,
    # ...) is consecutive.
    free = consecutive_free_ports(len(published) + len(KINDS))
    ports = dict(zip(published, free, strict=False))
    first = free[len(published)]
    ports.update({base + i: first + i for i in range(len(KINDS))})
    return ports


@dataclass
class Deployment:
    tr: compose.Translation
    ns: Namespace
    apps: list[str]
    report: dict[str, Any] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    # Seconds from `podman run` to the first passing healthcheck (polled every 0.5 s, and
    # one `podman exec` costs about 0.3 s: read these to the nearest second).
    healthy_after: dict[str, float] = field(default_factory=dict)

    def url(self, service: str) -> str:
        (published,) = [
            int(str(p).split("/")[0].rsplit(":", 1)[-1])
            for p in self.tr.compose["services"][service]["ports"]
        ]
        return f"http://127.0.0.1:{self.tr.ports[published]}"

    def exec(self, service: str, *argv: str) -> Any:
        return podman.podman("exec", self.tr.container(service), *argv, check=False)

    def inspect(self, service: str, template: str) -> str:
        done = podman.podman("inspect", "--format", template, self.tr.container(service))
        return str(done.stdout.strip())

    def healthy(self, service: str) -> bool:
        check = self.tr.healthcheck(service)
        assert check is not None, f"{service} has no healthcheck"
        return bool(self.exec(service, *check.argv).returncode == 0)

    def logs(self, service: str) -> str:
        done = podman.podman("logs", "--tail", "40", self.tr.container(service), check=False)
        return f"--- {service} ---\n{done.stdout}{done.stderr}"

    def wait_healthy(self, service: str) -> None:
        """Until the compose healthcheck passes, within compose's own patience."""
        check = self.tr.healthcheck(service)
        assert check is not None, f"{service} has no healthcheck"
        deadline = time.monotonic() + check.patience_s
        while time.monotonic() < deadline:
            if self.healthy(service):
                since = time.monotonic() - self.started_at[service]
                self.healthy_after.setdefault(service, round(since, 1))
                return
            time.sleep(0.5)
        raise AssertionError(
            f"{service} not healthy in {check.patience_s:.0f}s\n{self.logs(service)}"
        )

    def wait_completed(self, service: str) -> None:
        done = podman.podman("wait", self.tr.container(service), timeout=300)
        code = int(done.stdout.strip().splitlines()[-1])
        assert code == 0, f"{service} exited {code}\n{self.logs(service)}"

    def start(self, service: str) -> None:
        spec = self.tr.compose["services"][service]
        for dep, condition in (spec.get("depends_on") or {}).items():
            if dep in compose.INFRA_SERVICES:
                continue  # the local stack, up before the test starts
            kind = condition["condition"]
            if kind == "service_completed_successfully":
                self.wait_completed(dep)
            elif kind == "service_healthy":
                self.wait_healthy(dep)
            else:
                assert kind == "service_started", f"{service}: unknown condition {kind}"
        hosts = [f"--add-host={name}:127.0.0.1" for name in self.tr.compose["services"]]
        self.started_at[service] = time.monotonic()
        podman.run_detached(
            self.tr.container(service),
            [*self.tr.run_args(service), *hosts, self.tr.image, *self.tr.command(service)],
            env=self.tr.podman_env(service),
        )


async def _decided_orders(settings: Settings, schema: str) -> int:
    conn = await asyncpg.connect(settings.postgres_owner_dsn.get_secret_value())
    try:
        count = await conn.fetchval(
            f"select count(*) from {quote_ident(schema)}.orders"
            " where status in ('confirmed', 'rejected')"
        )
        return int(count)
    finally:
        await conn.close()


async def _wait_decided(settings: Settings, schema: str, more_than: int, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    decided = 0
    while time.monotonic() < deadline:
        decided = await _decided_orders(settings, schema)
        if decided > more_than:
            return decided
        await asyncio.sleep(1)
    raise AssertionError(f"decided orders stayed at {decided} (wanted more than {more_than})")


@pytest.fixture(scope="module")
async def deployment(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    timings: dict[str, float] = {}
    python_base, timings["python_base_build_s"] = podman.build_standin("python")
    node_base, timings["node_base_build_s"] = podman.build_standin("node")
    built = podman.build_riverbed(
        IMAGE, {"PYTHON_IMAGE": python_base, "NODE_IMAGE": node_base, "PYTHON_VERSION": "3.11"}
    )
    timings["image_build_s"] = built.seconds

    uid = secrets.token_hex(5)
    secret_dir = tmp_path_factory.mktemp("secrets")
    secret_dir.chmod(0o700)
    key_file = secret_dir / "gateway-api-key"
    key_file.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
    # Read by uid 10001 inside; the directory keeps other host users out.
    key_file.chmod(0o644)

    spec = compose.load({"GATEWAY_API_KEY_FILE": str(key_file)})
    apps = _app_services(spec)
    ns = Namespace(settings, uid, tmp_path_factory.mktemp("ns"))
    volume = f"riverbed-ct-{uid}"
    tr = compose.Translation(
        image=IMAGE,
        prefix=f"riverbed-ct-{uid}",
        infra={
            "RIVERBED_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "RIVERBED_POSTGRES_DSN": settings.postgres_dsn.get_secret_value(),
            "RIVERBED_POSTGRES_OWNER_DSN": settings.postgres_owner_dsn.get_secret_value(),
            "RIVERBED_POSTGRES_READER_DSN": settings.postgres_reader_dsn.get_secret_value(),
            "RIVERBED_MONGO_URI": settings.mongo_uri.get_secret_value(),
            "RIVERBED_OTEL_ENDPOINT": f"http://127.0.0.1:{settings.jaeger_otlp_port}",
            "RIVERBED_JAEGER_URL": settings.jaeger_url,
        },
        ports=_ports(spec, apps),
        extra_env=ns.env,
        volumes={"riverbed-data": volume},
        secrets={"riverbed_gateway_api_key": key_file},
        compose=spec,
    )
    order = compose.start_order(spec["services"], apps)
    deployment = Deployment(tr, ns, order)
    podman.podman("volume", "create", volume)
    try:
        for service in order:
            deployment.start(service)
        for service in order:
            if tr.healthcheck(service) is not None:
                deployment.wait_healthy(service)
        timings["image_size_mb"] = round(built.size_bytes / 1e6, 1)
        deployment.report.update(timings)
        deployment.report["healthy_after_start_s"] = dict(deployment.healthy_after)
        yield deployment
    finally:
        for service in order:
            print(deployment.logs(service))  # shown when a test fails
        removing = time.monotonic()
        podman.remove([tr.container(s) for s in order])
        podman.podman("volume", "rm", "--force", volume, check=False)
        deployment.report["remove_containers_s"] = round(time.monotonic() - removing, 1)
        dropping = time.monotonic()
        await ns.drop()
        deployment.report["drop_namespace_s"] = round(time.monotonic() - dropping, 1)
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(json.dumps(deployment.report, indent=2) + "\n", encoding="utf-8")


def test_every_app_service_of_compose_runs(deployment: Deployment) -> None:
    expected = {
        "migrate", "topics", "gateway", "dashboard", "simulator",
        *(f"worker-{kind}" for kind in KINDS),  # one service per worker kind
    }  # fmt: skip
    assert set(deployment.apps) == expected
    for service in deployment.apps:
        state = deployment.inspect(service, "{{.State.Status}} {{.State.ExitCode}}")
        one_shot = deployment.tr.compose["services"][service].get("restart") == "no"
        assert state == ("exited 0" if one_shot else "running 0"), f"{service}: {state}"


def test_services_run_as_the_image_user_on_a_read_only_root(deployment: Deployment) -> None:
    for service in deployment.apps:
        assert deployment.inspect(service, "{{.HostConfig.ReadonlyRootfs}}") == "true"
        if deployment.tr.compose["services"][service].get("restart") == "no":
            continue  # exited (with 0, on this read-only root): nothing to exec into
        # One exec per service (each costs about 0.3 s): uid, owner of /data, a write.
        probe = deployment.exec(service, "sh", "-c", "id -u; stat -c %u /data; touch /app/probe")
        uid, data_owner = probe.stdout.split()
        assert uid == "10001", f"{service} runs as {uid}"
        # The volume on /data started empty and is the user's: workers keep state there.
        assert data_owner == "10001", f"{service}: /data belongs to {data_owner}"
        assert probe.returncode != 0
        assert "Read-only file system" in probe.stderr
    # No worker keeps local state any more (none runs on faust, whose data dir lived
    # here): the volume must still take the image user's writes.
    wrote = deployment.exec(
        "worker-orders", "sh", "-c", "touch /data/probe && ls /data && rm /data/probe"
    )
    assert wrote.returncode == 0 and "probe" in wrote.stdout.split(), wrote.stderr


def test_the_api_key_reaches_the_gateway_from_the_secrets_file_only(
    deployment: Deployment,
) -> None:
    for service in ("gateway", "simulator"):
        env = deployment.exec(service, "env").stdout
        assert "RIVERBED_GATEWAY_API_KEY" not in env
    key = Path(deployment.tr.secrets["riverbed_gateway_api_key"]).read_text().strip()
    # DSNs with their password (the local stack's demo passwords are ordinary words, so
    # the password alone would be found in any log).
    credentials = {
        f"{parts.username}:{parts.password}@"
        for parts in (urlsplit(v) for v in deployment.tr.infra.values() if "://" in v)
        if parts.password
    }
    assert credentials, "the local stack's DSNs carry no password to look for"
    for service in deployment.apps:
        logs = podman.podman("logs", deployment.tr.container(service))
        for secret in {key, *credentials}:
            assert secret not in logs.stdout + logs.stderr, f"{service} logged a secret"
    gateway = deployment.url("gateway")
    refused = httpx.post(f"{gateway}/v1/events/batch", content=b"[]", timeout=10)
    assert refused.status_code == 401
    accepted = httpx.post(
        f"{gateway}/v1/events/batch", content=b"[]", headers={"X-API-Key": key}, timeout=10
    )
    assert accepted.status_code != 401


async def test_orders_are_decided(deployment: Deployment, settings: Settings) -> None:
    decided = await _wait_decided(settings, deployment.ns.schema, 0, wait_s=180)
    assert decided > 0


def test_dashboard_answers_and_is_healthy(deployment: Deployment) -> None:
    url = deployment.url("dashboard")
    page = httpx.get(f"{url}/", timeout=10)
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    # The chart library comes from the image's node_modules (the npm stage).
    assert httpx.get(f"{url}/vendor/uPlot.iife.min.js", timeout=10).status_code == 200
    deadline = time.monotonic() + 60
    ready = httpx.get(f"{url}/readyz", timeout=10)
    while ready.status_code != 200 and time.monotonic() < deadline:
        time.sleep(1)
        ready = httpx.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert deployment.healthy("dashboard")


async def test_a_killed_worker_restarts_and_resumes(
    deployment: Deployment, settings: Settings
) -> None:
    service = "worker-orders"
    assert deployment.tr.compose["services"][service]["restart"] == "unless-stopped"
    schema = deployment.ns.schema
    await _wait_decided(settings, schema, 0, wait_s=180)
    restarts = int(deployment.inspect(service, "{{.RestartCount}}"))
    pid = int(deployment.inspect(service, "{{.State.Pid}}"))
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)  # the container's init: as an OOM kill would
    deadline = time.monotonic() + 60
    while int(deployment.inspect(service, "{{.RestartCount}}")) == restarts:
        assert time.monotonic() < deadline, f"{service} not restarted\n{deployment.logs(service)}"
        await asyncio.sleep(0.5)
    assert int(deployment.inspect(service, "{{.State.Pid}}")) != pid
    deployment.wait_healthy(service)
    before = await _decided_orders(settings, schema)
    await _wait_decided(settings, schema, before, wait_s=120)
    deployment.report["worker_restart_to_new_decision_s"] = round(time.monotonic() - killed_at, 1)


def test_startup_time(deployment: Deployment) -> None:
    """How long a container of the image takes to run a command (no services needed)."""
    runs = []
    for _ in range(3):
        started = time.monotonic()
        done = podman.podman(
            "run", "--rm", "--read-only", "--network", "none", *podman.ULIMITS,
            IMAGE, "--version",
        )  # fmt: skip
        runs.append(time.monotonic() - started)
        assert done.stdout.strip()
    deployment.report["run_version_s"] = round(min(runs), 2)
