"""Prometheus and Grafana in docker-compose.yml: what they mount exists and agrees.

Their official images cannot be pulled here, so these tests read the files as the
containers would: the paths compose mounts, the scrape targets against the compose
services and the ports those serve, and Grafana's provisioning against the dashboard.
The container test (tests/containers) runs only the services compose builds from the
Dockerfile; a test here holds it to that.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from processors.kinds import KINDS
from tests.containers import compose
from tests.containers.test_compose_in_containers import _app_services

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "riverbed.json"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
MONITORING = ("prometheus", "grafana")


def _spec() -> dict[str, Any]:
    return compose.load({"GATEWAY_API_KEY_FILE": "/dev/null"})


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _spec()["services"][name]
    return service


def _binds(name: str) -> dict[PurePosixPath, Path]:
    """Container path -> repository file of each bind mount (``./...``) of a service."""
    found = {}
    for volume in _service(name).get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        if source.startswith("./"):
            found[PurePosixPath(target)] = ROOT / source
    return found


def _in_container(name: str, path: str | PurePosixPath) -> Path:
    """The repository file a service sees at ``path`` (under a bind-mounted directory or
    a file mounted there)."""
    path = PurePosixPath(path)
    for target, source in _binds(name).items():
        if path == target:
            return source
        if target in path.parents:
            return source / path.relative_to(target)
    raise AssertionError(f"{name}: nothing mounted at {path}")


def _prometheus_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return loaded


def _config_flag(name: str, flag: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in _service(name)["command"] if a.startswith(flag + "=")]
    return str(value)


@pytest.mark.parametrize(
    ("name", "image"),
    [
        ("prometheus", r"prom/prometheus:v3\.\d+\.\d+"),
        ("grafana", r"grafana/grafana:\d+\.\d+\.\d+"),
    ],
)
def test_monitoring_runs_the_official_images_with_a_healthcheck(name: str, image: str) -> None:
    service = _service(name)
    assert re.fullmatch(image, service["image"])
    assert "build" not in service
    assert service["restart"] == "unless-stopped"
    assert service["healthcheck"]["test"][0] == "CMD"


@pytest.mark.parametrize("name", sorted(_spec()["services"]))
def test_every_bind_mounted_file_exists(name: str) -> None:
    for target, source in _binds(name).items():
        assert source.exists(), f"{name} mounts {source} at {target}: no such file"


def test_prometheus_loads_the_repository_config_and_rules() -> None:
    config_path = _config_flag("prometheus", "--config.file")
    assert _in_container("prometheus", config_path) == PROMETHEUS_CONFIG
    rules = _prometheus_config()["rule_files"]
    assert rules
    for rule_file in rules:
        # Relative paths are relative to the configuration file's directory.
        in_container = PurePosixPath(config_path).parent / rule_file
        source = _in_container("prometheus", in_container)
        assert source.is_file() and source.parent == PROMETHEUS_CONFIG.parent, source


def test_prometheus_reads_the_dashboard_key_from_its_compose_secret() -> None:
    files = [
        job["authorization"]["credentials_file"]
        for job in _prometheus_config()["scrape_configs"]
        if "authorization" in job
    ]
    assert files
    secrets = {str(s) for s in _service("prometheus")["secrets"]}
    for path in files:
        directory, _, secret = path.rpartition("/")
        assert directory == "/run/secrets" and secret in secrets, path
        assert secret in _spec()["secrets"]


def _served_port(name: str) -> set[int]:
    """The ports a compose service serves /metrics on, from its command and environment."""
    service = _service(name)
    command = service["command"]
    if command[0] == "worker":
        env = compose.environment(service)
        # Reachable from another container only when not bound to loopback.
        assert env["RIVERBED_METRICS_HOST"] == "0.0.0.0", name
        return {int(env["RIVERBED_METRICS_PORT"]) + KINDS.index(command[1])}
    if "--port" in command:
        return {int(command[command.index("--port") + 1])}
    return set()


def test_every_scrape_target_is_a_compose_service_and_the_port_it_serves() -> None:
    services = _spec()["services"]
    targets = [
        target
        for job in _prometheus_config()["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    ]
    hosts = set()
    for target in targets:
        host, _, port = target.rpartition(":")
        assert host in services, f"{target}: no compose service {host}"
        assert int(port) in _served_port(host), f"{target}: {host} serves {_served_port(host)}"
        hosts.add(host)
    # Every worker, the gateway and the dashboard are scraped.
    workers = {n for n, s in services.items() if s.get("command", [""])[0] == "worker"}
    assert hosts == workers | {"gateway", "dashboard"}
    # The dashboard serves the Host header a scrape sends (its service name).
    allowed = compose.environment(services["dashboard"])["RIVERBED_DASHBOARD_ALLOWED_HOSTS"]
    assert "dashboard" in allowed.split(",")


def _provisioning(kind: str) -> list[dict[str, Any]]:
    """Grafana's provisioning files of ``kind`` as Grafana reads them from its mount."""
    directory = _in_container("grafana", f"/etc/grafana/provisioning/{kind}")
    assert directory == PROVISIONING / kind
    files = sorted(directory.glob("*.yml")) + sorted(directory.glob("*.yaml"))
    assert files, f"no {kind} provisioning files in {directory}"
    return [yaml.safe_load(f.read_text()) for f in files]


def test_grafana_provisions_the_dashboard_file() -> None:
    providers = [p for doc in _provisioning("dashboards") for p in doc["providers"]]
    assert providers
    loaded = set()
    for provider in providers:
        assert provider["type"] == "file"
        directory = PurePosixPath(provider["options"]["path"])
        source = _in_container("grafana", directory / DASHBOARD.name)
        loaded.add(source)
    assert DASHBOARD in loaded
    assert json.loads(DASHBOARD.read_text())["uid"] == "riverbed"


def test_grafana_provisions_a_datasource_the_dashboard_uses() -> None:
    datasources = [d for doc in _provisioning("datasources") for d in doc["datasources"]]
    dashboard = json.loads(DASHBOARD.read_text())
    variable_types = {
        v["query"] for v in dashboard["templating"]["list"] if v["type"] == "datasource"
    }
    panel_types = {
        p["datasource"]["type"]
        for p in dashboard["panels"]
        if isinstance(p.get("datasource"), dict)
    }
    assert variable_types and panel_types
    wanted = variable_types | panel_types
    provided = {d["type"] for d in datasources}
    assert wanted <= provided, f"the dashboard uses {wanted}, provisioned: {provided}"
    # ... and it points at the compose prometheus service, on the port Prometheus serves.
    (prometheus,) = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"
    assert prometheus["access"] == "proxy"  # Grafana's server queries it, not the browser
    assert any(str(p).endswith(":9090") for p in _service("prometheus")["ports"])
    assert "prometheus" in _service("grafana")["depends_on"]


def test_the_container_test_runs_only_the_services_built_from_the_dockerfile() -> None:
    spec = _spec()
    apps = _app_services(spec)
    assert apps == {name for name, s in spec["services"].items() if "build" in s}
    assert not apps & {*MONITORING, "jaeger"}
    # No app service waits for them, so the container test never has to start them.
    for name in apps:
        assert not set(spec["services"][name].get("depends_on") or {}) & set(MONITORING), name
