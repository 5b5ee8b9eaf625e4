"""The Docker path: docker-compose.yml, the Dockerfile and .dockerignore keep their shape.

No Docker engine runs in CI, so these tests read the files; tests/containers (``make
containers``) builds the image and runs the app services under podman. The compose file is
validated against the Compose Specification's own JSON schema (tests/compose_spec.py), as
``docker compose config`` would, since the CI machine has no compose plugin.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from core.settings import DEV_PASSWORDS, SECRETS_DIR, Settings
from processors.kinds import KINDS
from tests.compose_spec import schema
from tests.containers.compose import interpolate, load, start_order

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# The broker the local stack runs (core.settings.kafka_version), so both paths test one Kafka.
KAFKA_VERSION = Settings.model_fields["kafka_version"].default
INFRA_IMAGES = {
    "kafka": f"apache/kafka:{KAFKA_VERSION}",
    "postgres": "postgres:15",
    "mongo": "mongo:7",
}
INFRA_HEALTH_COMMANDS = {
    "kafka": "kafka-broker-api-versions.sh",
    "postgres": "pg_isready",
    "mongo": "mongosh",
}
APP_COMMANDS = {
    "migrate": ["migrate"],
    "topics": ["topics", "create"],
    "worker-orders": ["worker", "orders"],
    "worker-inventory": ["worker", "inventory"],
    "worker-viewing": ["worker", "viewing"],
    "worker-dispatch": ["worker", "dispatch"],
    "gateway": ["gateway", "--host", "0.0.0.0", "--port", "8000"],
    "dashboard": ["dashboard", "--host", "0.0.0.0", "--port", "8080"],
    "simulator": ["simulate", "--duration", "0", "--rate", "200", "--via", "gateway"],
}
ONE_SHOT = ["migrate", "topics"]
LONG_RUNNING = sorted(set(APP_COMMANDS) - set(ONE_SHOT))
WORKER_METRICS = {
    "worker-orders": 0,
    "worker-inventory": 1,
    "worker-viewing": 2,
    "worker-dispatch": 3,
}
# Node.js release lines and their end of life (nodejs.org release schedule): even majors
# are the LTS lines an image may pin.
NODE_END_OF_LIFE = {22: "2027-04-30", 24: "2028-04-30"}
PUBLISHED_PORTS = [
    ("kafka", 9094),
    ("postgres", 5432),
    ("mongo", 27017),
    ("gateway", 8000),
    ("dashboard", 8080),
]

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}; `$$` is a literal dollar.
SUBSTITUTION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
URL_PASSWORD = re.compile(r"://[^/\s:@]*:(?P<password>[^@\s/]+)@")


def _compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(_compose_text())
    return loaded


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _compose()["services"][name]
    return service


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def _published_ports(service: dict[str, Any]) -> set[int]:
    """Host ports of a service, from short (``[ip:]host:container``) or long syntax."""
    ports: set[int] = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.add(int(entry["published"]))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) >= 2:
            ports.add(int(parts[-2]))
    return ports


def _without_substitutions(text: str) -> str:
    return SUBSTITUTION.sub("", text.replace("$$", ""))


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    lines = [
        line
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\s*\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(args.split())))
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


# --- infrastructure ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "image"), sorted(INFRA_IMAGES.items()))
def test_infra_service_uses_official_image(name: str, image: str) -> None:
    assert _service(name)["image"] == image


@pytest.mark.parametrize(("name", "command"), sorted(INFRA_HEALTH_COMMANDS.items()))
def test_infra_service_has_healthcheck(name: str, command: str) -> None:
    test = _service(name)["healthcheck"]["test"]
    assert isinstance(test, list)
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert command in " ".join(test[1:])


@pytest.mark.parametrize("name", sorted(INFRA_IMAGES))
def test_infra_service_keeps_data_in_named_volume(name: str) -> None:
    declared = set(_compose().get("volumes") or {})
    sources = {str(volume).split(":")[0] for volume in _service(name).get("volumes", [])}
    assert sources & declared, f"{name} has no named volume"


@pytest.mark.parametrize(("name", "port"), PUBLISHED_PORTS)
def test_expected_port_is_published(name: str, port: int) -> None:
    assert port in _published_ports(_service(name))


def test_kafka_runs_single_node_kraft() -> None:
    env = _environment(_service("kafka"))
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENERS"]
    assert env["KAFKA_NUM_PARTITIONS"] == "4"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    replication = [key for key in env if key.endswith("REPLICATION_FACTOR")]
    assert replication
    assert all(env[key] == "1" for key in replication)
    # KRaft refuses a cluster id that is not a base64url-encoded 16-byte UUID.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])


def test_postgres_and_mongo_require_a_password() -> None:
    assert _environment(_service("postgres"))["POSTGRES_PASSWORD"]
    assert _environment(_service("mongo"))["MONGO_INITDB_ROOT_PASSWORD"]


# --- app services -----------------------------------------------------------------------


def test_app_services_are_the_expected_ones() -> None:
    apps = {name for name, service in _compose()["services"].items() if "build" in service}
    assert apps == set(APP_COMMANDS)


@pytest.mark.parametrize("name", sorted(APP_COMMANDS))
def test_app_service_builds_from_repo_dockerfile(name: str) -> None:
    build = _service(name)["build"]
    if isinstance(build, str):
        build = {"context": build}
    assert build["context"] == "."
    assert build.get("dockerfile", "Dockerfile") == "Dockerfile"


@pytest.mark.parametrize("name", sorted(APP_COMMANDS))
def test_app_service_waits_for_healthy_infra(name: str) -> None:
    depends_on = _service(name)["depends_on"]
    # `topics` talks to Kafka only.
    for infra in ["kafka"] if name == "topics" else INFRA_IMAGES:
        assert depends_on[infra]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_service_waits_for_migrate_and_topics(name: str) -> None:
    for one_shot in ONE_SHOT:
        assert _service(name)["depends_on"][one_shot]["condition"] == (
            "service_completed_successfully"
        )


@pytest.mark.parametrize("name", ONE_SHOT)
def test_one_shot_service_runs_once(name: str) -> None:
    assert _service(name)["restart"] == "no"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_service_restarts_and_has_a_healthcheck(name: str) -> None:
    service = _service(name)
    assert service["restart"] == "unless-stopped"
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], "the image has no curl: python is the client"


@pytest.mark.parametrize(("name", "offset"), sorted(WORKER_METRICS.items()))
def test_worker_healthcheck_calls_its_own_metrics_port(name: str, offset: int) -> None:
    env = _environment(_service(name))
    port = int(env["RIVERBED_METRICS_PORT"]) + offset
    assert f"http://127.0.0.1:{port}/healthz" in _service(name)["healthcheck"]["test"][3]


def test_every_worker_kind_runs_as_a_compose_service() -> None:
    """``riverbed worker all`` runs every kind; compose runs each in its own service, and
    a kind without one (dispatch had none) would silently never run there."""
    services = _compose()["services"]
    workers = {
        s["command"][1]: name
        for name, s in services.items()
        if (s.get("command") or [""])[0] == "worker"
    }
    assert sorted(workers) == sorted(KINDS)
    for kind, name in workers.items():
        assert name == f"worker-{kind}"
        # Each serves /metrics at the offset `riverbed worker` gives its kind.
        assert WORKER_METRICS[name] == KINDS.index(kind)


@pytest.mark.parametrize(("name", "port"), [("gateway", 8000), ("dashboard", 8080)])
def test_server_healthcheck_calls_the_port_it_serves(name: str, port: int) -> None:
    assert str(port) in _service(name)["command"]
    assert f"http://127.0.0.1:{port}/healthz" in _service(name)["healthcheck"]["test"][3]


def test_every_service_a_healthy_condition_waits_for_has_a_healthcheck() -> None:
    services = _compose()["services"]
    waited = {
        dep
        for service in services.values()
        for dep, condition in (service.get("depends_on") or {}).items()
        if condition["condition"] == "service_healthy"
    }
    assert waited >= {"kafka", "postgres", "mongo", "gateway"}
    for name in sorted(waited):
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in _compose()["services"].items():
        if service.get("restart") != "no":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    validator = jsonschema_rs.validator_for(schema())
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(_compose())]
    assert not errors, errors


def test_the_schema_check_catches_a_misspelt_key() -> None:
    broken = _compose()
    broken["services"]["gateway"]["healthchek"] = broken["services"]["gateway"]["healthcheck"]
    assert not jsonschema_rs.validator_for(schema()).is_valid(broken)


def test_kafka_creates_no_topic_on_first_use() -> None:
    assert _environment(_service("kafka"))["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


@pytest.mark.parametrize("name", sorted(APP_COMMANDS))
def test_app_service_writes_only_to_its_data_volume_and_tmp(name: str) -> None:
    service = _service(name)
    assert service["read_only"] is True
    assert service["tmpfs"] == ["/tmp"]
    volumes = [str(v) for v in service["volumes"]]
    assert volumes == ["riverbed-data:/data"]
    assert "riverbed-data" in _compose()["volumes"]
    # The image's data dir and key store are on that volume, owned by its user.
    env = " ".join(value for keyword, value in _final_stage() if keyword == "ENV")
    assert "RIVERBED_DATA_DIR=/data" in env
    assert "RIVERBED_GATEWAY_KEYS_FILE=/data/" in env
    runs = " ".join(value for keyword, value in _final_stage() if keyword == "RUN")
    assert "install -d -o riverbed -g riverbed" in runs and runs.rstrip().endswith("/data")


@pytest.mark.parametrize("name", ["gateway", "simulator"])
def test_gateway_api_key_comes_from_a_secrets_file(name: str) -> None:
    assert "riverbed_gateway_api_key" in _service(name)["secrets"]
    assert "RIVERBED_GATEWAY_API_KEY" not in _environment(_service(name))
    secret = _compose()["secrets"]["riverbed_gateway_api_key"]
    # Required, with a message: without it the gateway would answer 401 to everyone.
    assert re.fullmatch(r"\$\{GATEWAY_API_KEY_FILE:\?[^}]+\}", secret["file"])


def test_secret_names_are_settings_read_from_the_secrets_dir() -> None:
    assert str(SECRETS_DIR) == "/run/secrets"  # where compose mounts `secrets`
    # The app services' secrets (Prometheus's key for the dashboard is Prometheus's).
    used = {
        secret if isinstance(secret, str) else secret["source"]
        for name in APP_COMMANDS
        for secret in _service(name).get("secrets") or []
    }
    assert used
    for name in used:
        assert name.startswith("riverbed_")
        assert name.removeprefix("riverbed_") in Settings.model_fields


def test_simulator_reaches_the_gateway_by_its_service_name() -> None:
    url = _environment(_service("simulator"))["RIVERBED_GATEWAY_URL"]
    assert url == "http://gateway:8000"
    assert "8000" in _service("gateway")["command"]


@pytest.mark.parametrize(("name", "command"), sorted(APP_COMMANDS.items()))
def test_app_service_command(name: str, command: list[str]) -> None:
    assert _service(name)["command"] == command


def test_only_the_simulator_needs_the_demo_profile() -> None:
    profiled = {name for name, svc in _compose()["services"].items() if svc.get("profiles")}
    assert profiled == {"simulator"}
    assert _service("simulator")["profiles"] == ["demo"]


@pytest.mark.parametrize("name", sorted(APP_COMMANDS))
def test_app_service_uses_the_in_network_kafka_listener(name: str) -> None:
    bootstrap = _environment(_service(name))["RIVERBED_KAFKA_BOOTSTRAP"]
    advertised = _environment(_service("kafka"))["KAFKA_ADVERTISED_LISTENERS"].split(",")
    by_address = {listener.split("://", 1)[1]: listener for listener in advertised}
    assert bootstrap == "kafka:9092"
    assert bootstrap in by_address, "not an advertised listener of the broker"


@pytest.mark.parametrize("name", sorted(APP_COMMANDS))
def test_app_service_gets_every_connection_setting(name: str) -> None:
    env = _environment(_service(name))
    for key in ("POSTGRES_DSN", "POSTGRES_OWNER_DSN", "MONGO_URI", "MONGO_DB", "ENVIRONMENT"):
        assert f"RIVERBED_{key}" in env


def test_every_riverbed_variable_is_a_settings_field() -> None:
    names = set(re.findall(r"\bRIVERBED_[A-Z0-9_]+\b", _compose_text()))
    assert names
    unknown = sorted(
        n for n in names if n.removeprefix("RIVERBED_").lower() not in Settings.model_fields
    )
    assert not unknown, f"not fields of core.settings.Settings: {unknown}"


# --- secrets ----------------------------------------------------------------------------


def test_password_defaults_are_the_known_demo_values() -> None:
    defaults: dict[str, set[str]] = {}
    for match in SUBSTITUTION.finditer(_compose_text().replace("$$", "")):
        if match["op"] in {":-", "-"}:
            defaults.setdefault(match["name"], set()).add(match["arg"])
    for name, values in defaults.items():
        # One default per variable, or the database and the DSN would disagree.
        assert len(values) == 1, f"{name} has different defaults: {sorted(values)}"
        if "PASSWORD" in name:
            assert values <= DEV_PASSWORDS, f"{name} defaults to a non-demo value"


def test_no_literal_password_outside_substitutions() -> None:
    literal = _without_substitutions(_compose_text())
    assert not URL_PASSWORD.search(literal), "a URL carries a literal password"
    for name, service in _compose()["services"].items():
        for key, value in _environment(service).items():
            if re.search(r"PASSWORD|SECRET", key):
                assert not _without_substitutions(value), f"{name}.{key} is a literal"


# --- Dockerfile -------------------------------------------------------------------------


def _args() -> dict[str, str]:
    return {
        name: default
        for keyword, value in _dockerfile_instructions()
        if keyword == "ARG" and "=" in value
        for name, default in [value.split("=", 1)]
    }


def test_dockerfile_builds_python_stages_on_python_slim_and_assets_on_node() -> None:
    instructions = _dockerfile_instructions()
    args = {
        name: default
        for keyword, value in instructions
        if keyword == "ARG" and "=" in value
        for name, default in [value.split("=", 1)]
    }
    images = {}
    for keyword, value in instructions:
        if keyword == "FROM":
            image = SUBSTITUTION.sub(lambda m: args.get(m["name"], ""), value.split()[0])
            images[value.split()[-1]] = image
    # The chart library is installed from npm in its own stage; Python runs on slim; both
    # on the same Debian release as the stand-ins of `make containers`.
    assert images == {
        "ui": "node:24-bookworm-slim",
        "build": "python:3.11-slim-bookworm",
        "runtime": "python:3.11-slim-bookworm",
    }


def test_dockerfile_pins_a_supported_node_lts() -> None:
    tag = _args()["NODE_IMAGE"].split(":", 1)[1]
    major = int(tag.split("-")[0].split(".")[0])
    assert major in NODE_END_OF_LIFE, f"node {major} is not an LTS line the test knows"
    assert datetime.now(UTC).date().isoformat() < NODE_END_OF_LIFE[major], (
        f"node {major} reached its end of life on {NODE_END_OF_LIFE[major]}"
    )


def test_dockerfile_bases_are_build_arguments_and_python_is_found_on_path() -> None:
    froms = [value.split()[0] for keyword, value in _dockerfile_instructions() if keyword == "FROM"]
    assert froms == ["${NODE_IMAGE}", "${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    text = " ".join(value for _, value in _dockerfile_instructions())
    # No path inside one particular base image: Debian's python3.11 is /usr/bin, the
    # official image's /usr/local/bin, and site-packages differ with the version.
    assert "/usr/local/bin/python" not in text
    assert not re.search(r"lib/python3\.\d+", text)
    assert "UV_PYTHON=python${PYTHON_VERSION}" in text


def test_compose_builds_with_the_dockerfile_default_bases() -> None:
    build_args = _service("gateway")["build"]["args"]
    defaults = _args()
    for name in ("PYTHON_IMAGE", "NODE_IMAGE"):
        assert build_args[name] == f"${{{name}:-{defaults[name]}}}"


def test_dockerfile_installs_uv_from_pypi_and_syncs_the_frozen_lock() -> None:
    runs = [value for keyword, value in _dockerfile_instructions() if keyword == "RUN"]
    assert any(re.search(r"pip install .*\buv\b", run) for run in runs)
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs
    assert all("--frozen" in run and "--no-dev" in run for run in syncs)


def test_dockerfile_installs_dependencies_before_copying_the_source() -> None:
    instructions = _dockerfile_instructions()
    lock_copy = next(i for i, (k, v) in enumerate(instructions) if k == "COPY" and "uv.lock" in v)
    deps_sync = next(
        i
        for i, (k, v) in enumerate(instructions)
        if k == "RUN" and "uv sync" in v and "--no-install-project" in v
    )
    source_copy = next(
        i for i, (k, v) in enumerate(instructions) if k == "COPY" and "riverbed/" in v
    )
    assert lock_copy < deps_sync < source_copy
    copied = " ".join(v for k, v in instructions if k == "COPY")
    for package in ("core/", "riverbed/", "schemas/", "producers/", "processors/", "stores/"):
        assert package in copied
    assert "stack/" not in copied


def test_dockerfile_runs_as_non_root() -> None:
    users = [value for keyword, value in _final_stage() if keyword == "USER"]
    assert users, "the final stage has no USER line"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_entrypoint_is_the_riverbed_command() -> None:
    final = _final_stage()
    assert ("ENTRYPOINT", '["riverbed"]') in final
    env = " ".join(value for keyword, value in final if keyword == "ENV")
    assert "/app/.venv/bin" in env


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    """Local state, secrets and the host's node_modules stay out of the image."""
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".riverbed", ".git", ".env", "secrets", "**/node_modules"} <= patterns
    assert any("__pycache__" in pattern for pattern in patterns)


# --- the container test's reading of the file (tests/containers/compose.py) -------------


def test_interpolation_follows_compose() -> None:
    env = {"SET": "value", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$HOME", env) == (
        "value d  d $HOME"
    )
    with pytest.raises(ValueError, match="say why"):
        interpolate("${UNSET:?say why}", env)


def test_start_order_puts_every_service_after_what_it_depends_on() -> None:
    loaded = load({"GATEWAY_API_KEY_FILE": "/dev/null"})
    apps = {name for name, service in loaded["services"].items() if "build" in service}
    order = start_order(loaded["services"], apps)
    assert set(order) == apps
    for name in order:
        for dep in loaded["services"][name].get("depends_on") or {}:
            if dep in apps:
                assert order.index(dep) < order.index(name), f"{name} before {dep}"


def test_the_api_key_file_is_required() -> None:
    with pytest.raises(ValueError, match="GATEWAY_API_KEY_FILE"):
        load({})


def test_jaeger_runs_the_official_v2_image_and_the_apps_trace_to_it() -> None:
    jaeger = _service("jaeger")
    assert re.fullmatch(r"jaegertracing/jaeger:2\.\d+\.\d+", jaeger["image"])
    assert {16686, 4318} <= _published_ports(jaeger)
    assert jaeger["healthcheck"]["test"]
    for name in APP_COMMANDS:
        env = _service(name)["environment"]
        assert env["RIVERBED_OTEL_ENDPOINT"].endswith("http://jaeger:4318}"), name
        assert env["RIVERBED_JAEGER_URL"] == "http://jaeger:16686", name
        # Tracing is optional: no app service waits for Jaeger.
        assert "jaeger" not in (_service(name).get("depends_on") or {}), name
