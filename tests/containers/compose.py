"""docker-compose.yml read the way docker compose reads it, turned into ``podman run``
arguments, so the container test runs what the file says and cannot drift from it.

What is taken from the file: each app service's command, environment, ``init``,
``read_only``, ``tmpfs``, volumes, secrets, ``restart``, healthcheck, ``depends_on`` and
profiles. What is replaced, and only that: the official infrastructure images cannot be
pulled here, so the variables that say where Kafka, PostgreSQL and MongoDB are
(:data:`INFRA_VARIABLES`) point at the local stack instead; and every container shares
the host's network (the local stack listens on loopback), so the ports the services bind
and call (``Translation.ports``) move to free ones, ``0.0.0.0`` binds become
``127.0.0.1`` (compose publishes on 127.0.0.1 only), and the test maps each service
name to 127.0.0.1 (``--add-host``) as compose's DNS would resolve it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

# Variables that locate an infrastructure service of compose (kafka, postgres, mongo).
INFRA_VARIABLES = frozenset(
    {
        "RIVERBED_KAFKA_BOOTSTRAP",
        "RIVERBED_POSTGRES_DSN",
        "RIVERBED_POSTGRES_OWNER_DSN",
        "RIVERBED_POSTGRES_READER_DSN",
        "RIVERBED_MONGO_URI",
        "RIVERBED_OTEL_ENDPOINT",
        "RIVERBED_JAEGER_URL",
    }
)
INFRA_SERVICES = frozenset({"kafka", "postgres", "mongo"})

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; `$$` is `$`.
_SUBSTITUTION = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` with compose's variable substitution applied to every string in it."""
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            if match[0] == "$$":
                return "$"
            name, op, arg = match["name"], match["op"], match["arg"]
            current = env.get(name)
            unset_or_empty = not current
            if (op in {":-", ":?"} and unset_or_empty) or (op in {"-", "?"} and current is None):
                if op.endswith("?"):
                    raise ValueError(f"${{{name}}}: {arg}")
                return str(arg)
            return current or ""

        return _SUBSTITUTION.sub(one, value)
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    return value


def load(env: Mapping[str, str]) -> dict[str, Any]:
    """The compose file with anchors merged and variables substituted from ``env``."""
    raw: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    loaded: dict[str, Any] = interpolate(raw, env)
    return loaded


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def start_order(services: Mapping[str, Any], names: set[str]) -> list[str]:
    """``names`` in an order that starts each service after everything it depends on."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"depends_on cycle: {' -> '.join((*path, name))}")
        for dep in services[name].get("depends_on") or {}:
            if dep in names:
                visit(dep, (*path, name))
        order.append(name)

    for name in sorted(names):
        visit(name, ())
    return order


@dataclass(frozen=True)
class Healthcheck:
    """A compose healthcheck: what ``podman exec`` runs and how long compose would wait."""

    argv: list[str]
    interval_s: float
    retries: int
    start_period_s: float

    @property
    def patience_s(self) -> float:
        return self.start_period_s + self.interval_s * self.retries


def _seconds(value: str | int | float | None, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|s|m|h)", value):
        total += float(number) * units[unit]
    return total


def healthcheck(service: Mapping[str, Any]) -> Healthcheck | None:
    spec = service.get("healthcheck")
    if not spec or spec.get("disable"):
        return None
    test = spec["test"]
    if isinstance(test, str):
        argv = ["/bin/sh", "-c", test]
    elif test[0] == "CMD":
        argv = list(test[1:])
    elif test[0] == "CMD-SHELL":
        argv = ["/bin/sh", "-c", " ".join(test[1:])]
    else:
        raise ValueError(f"healthcheck test {test[0]!r} is not CMD or CMD-SHELL")
    # Compose's defaults: 30 s interval, 3 retries, no start period.
    return Healthcheck(
        argv,
        _seconds(spec.get("interval"), 30.0),
        int(spec.get("retries", 3)),
        _seconds(spec.get("start_period"), 0.0),
    )


@dataclass
class Translation:
    """How one compose file becomes podman containers on this host.

    ``infra``: the local stack's value of each :data:`INFRA_VARIABLES` entry;
    ``ports``: compose port -> host port, for every port a service binds or calls;
    ``extra_env``: variables added to every container (the test's isolation namespace);
    ``volumes``: compose volume name -> podman volume name; ``secrets``: secret -> file.
    """

    image: str
    prefix: str
    infra: dict[str, str]
    ports: dict[int, int]
    extra_env: dict[str, str]
    volumes: dict[str, str]
    secrets: dict[str, Path]
    compose: dict[str, Any] = field(default_factory=dict)

    def _move_ports(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            port = int(match[0])
            return str(self.ports.get(port, port))

        # A port is a whole number of 4-5 digits standing alone (":8000", "--port 8000").
        moved = re.sub(r"(?<![\d.])\d{4,5}(?![\d.])", one, text)
        # Compose binds 0.0.0.0 inside each container's own network and publishes on
        # 127.0.0.1 only; on the host's network the same reach is 127.0.0.1.
        return "127.0.0.1" if moved == "0.0.0.0" else moved

    def env(self, name: str) -> dict[str, str]:
        env = environment(self.compose["services"][name])
        missing = INFRA_VARIABLES - env.keys()
        if missing:
            raise ValueError(f"{name}: compose does not set {sorted(missing)}")
        moved = {key: self._move_ports(value) for key, value in env.items()}
        return {**moved, **self.infra, **self.extra_env}

    def command(self, name: str) -> list[str]:
        return [self._move_ports(arg) for arg in self.compose["services"][name]["command"]]

    def healthcheck(self, name: str) -> Healthcheck | None:
        check = healthcheck(self.compose["services"][name])
        if check is None:
            return None
        return replace(check, argv=[self._move_ports(arg) for arg in check.argv])

    def container(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def run_args(self, name: str) -> list[str]:
        """``podman run`` arguments (before the image's command) for service ``name``."""
        service = self.compose["services"][name]
        args = ["--network", "host", "--label", f"riverbed-container-test={self.prefix}"]
        if service.get("init"):
            args.append("--init")
        if service.get("read_only"):
            # Docker's read_only mounts nothing writable by itself; podman would add
            # tmpfs on /run, /tmp and /var/tmp unless told not to.
            args += ["--read-only", "--read-only-tmpfs=false"]
        if service.get("user"):
            args += ["--user", str(service["user"])]
        for path in service.get("tmpfs") or []:
            args += ["--tmpfs", str(path)]
        for volume in service.get("volumes") or []:
            source, _, target = str(volume).partition(":")
            if source not in self.volumes:
                raise ValueError(f"{name}: volume {source!r} has no stand-in")
            args += ["--volume", f"{self.volumes[source]}:{target}"]
        for secret in service.get("secrets") or []:
            secret_name = secret if isinstance(secret, str) else secret["source"]
            target = secret_name if isinstance(secret, str) else secret.get("target", secret_name)
            path = self.secrets[secret_name]
            args += ["--volume", f"{path}:/run/secrets/{target}:ro"]
        restart = service.get("restart", "no")
        args += ["--restart", "no" if restart == "no" else str(restart)]
        # Values stay off podman's command line (DSNs carry passwords): `--env NAME` takes
        # each from podman's own environment, which :meth:`podman_env` gives it.
        for key in sorted(self.env(name)):
            args += ["--env", key]
        return args

    def podman_env(self, name: str) -> dict[str, str]:
        return self.env(name)
