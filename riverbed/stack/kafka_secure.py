"""Secure mode of the local broker: TLS, SCRAM principals and their credential files.

A data dir is secure once ``riverbed stack up --secure`` formatted its broker; from then
on every ``stack`` command on it talks SASL_SSL. Everything lives in
``<data dir>/secure/`` (mode 0700):

    ca.pem                   the local CA: what clients verify the broker with
    ca-key.pem               its key (0600); broker-keystore.pem: broker key + chain (0600)
    <principal>.env          RIVERBED_KAFKA_* lines for one principal (0600)

Passwords are random per data dir and exist only in those files and, as salted SCRAM
credentials, in the broker's metadata: ``kafka-storage format --add-scram`` writes them
into the bootstrap checkpoint (KIP-900), the only way to have a SCRAM super user before
a KRaft broker first starts. The broker authenticates to its own controller listener
with its certificate (mutual TLS): SCRAM is not available to controllers, and a
PLAINTEXT controller listener would need ``User:ANONYMOUS`` as a super user.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from core.settings import Settings
from riverbed.stack.acls import ADMIN, PRINCIPALS
from riverbed.stack.base import StackPaths
from riverbed.stack.tls import BROKER_CN, TlsFiles, write_local_ca

MECHANISM = "SCRAM-SHA-512"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
LISTENER = "SASL_SSL"
# A cluster's nodes are provisioned in parallel threads and share one set of files.
_PREPARE_LOCK = threading.Lock()


class SecureBroker:
    """The files and broker settings of secure mode for one data dir."""

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        self.settings = settings
        self.directory = paths.data / "secure"
        self.tls = TlsFiles(self.directory)

    @property
    def enabled(self) -> bool:
        """True when this data dir was set up for secure mode."""
        return self.env_file(ADMIN).exists()

    def env_file(self, principal: str) -> Path:
        return self.directory / f"{principal}.env"

    def prepare(self, host: str) -> None:
        """Create the CA, the broker certificate and every principal's password (once)."""
        with _PREPARE_LOCK:
            self._prepare(host)

    def _prepare(self, host: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        if not self.tls.exist():
            write_local_ca(self.tls, hosts=[host, "127.0.0.1", "localhost"])
        for principal in PRINCIPALS:
            if not self.env_file(principal).exists():
                self._write_env(principal, secrets.token_urlsafe(24))

    def passwords(self) -> dict[str, str]:
        """Each principal's password, read back from its credential file. A data dir set
        up before a principal existed has no file (and no credential) for it: left out."""
        return {
            p: _read_env(self.env_file(p))["RIVERBED_KAFKA_PASSWORD"]
            for p in PRINCIPALS
            if self.env_file(p).exists()
        }

    def scram_arguments(self) -> list[str]:
        """``kafka-storage format`` arguments that create every principal's credential."""
        args: list[str] = []
        for principal, password in self.passwords().items():
            # token_urlsafe passwords hold no `,` `]` `=` that would end the value early.
            args += ["--add-scram", f"{MECHANISM}=[name={principal},password={password}]"]
        return args

    def broker_properties(self, host: str, port: int, controller_port: int) -> dict[str, str]:
        """server.properties entries that replace the plaintext listeners."""
        admin = _read_env(self.env_file(ADMIN))["RIVERBED_KAFKA_PASSWORD"]
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{admin}";'
        )
        return {
            "listeners": f"{LISTENER}://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"{LISTENER}://{host}:{port}",
            "inter.broker.listener.name": LISTENER,
            "listener.security.protocol.map": f"CONTROLLER:SSL,{LISTENER}:{LISTENER}",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            f"listener.name.{LISTENER.lower()}.{MECHANISM.lower()}.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca_cert),
            "listener.name.controller.ssl.client.auth": "required",
            "authorizer.class.name": AUTHORIZER,
            "allow.everyone.if.no.acl.found": "false",
            # The certificate's subject is the principal on the controller listener.
            "super.users": f"User:{ADMIN};User:CN={BROKER_CN}",
        }

    def client_settings(self, principal: str) -> Settings:
        """The stack's settings with ``principal``'s credential file applied (the broker's
        address stays the stack's own: the file keeps the one of its creation)."""
        env = _read_env(self.env_file(principal))
        env.pop("RIVERBED_KAFKA_BOOTSTRAP", None)
        return Settings.model_validate(
            {
                **self.settings.model_dump(),
                **{k.removeprefix("RIVERBED_").lower(): v for k, v in env.items()},
            }
        )

    def _write_env(self, principal: str, password: str) -> None:
        lines = [
            f"# Kafka principal `{principal}` of the secure local broker "
            "(riverbed stack up --secure). Keep private.",
            f"RIVERBED_KAFKA_BOOTSTRAP={self.settings.kafka_bootstrap}",
            f"RIVERBED_KAFKA_SECURITY_PROTOCOL={LISTENER}",
            f"RIVERBED_KAFKA_SASL_MECHANISM={MECHANISM}",
            f"RIVERBED_KAFKA_SSL_CAFILE={self.tls.ca_cert}",
            f"RIVERBED_KAFKA_USERNAME={principal}",
            f"RIVERBED_KAFKA_PASSWORD={password}",
        ]
        path = self.env_file(principal)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(lines) + "\n")
        path.chmod(0o600)


def _read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def merge_properties(text: str, overrides: dict[str, str]) -> str:
    """``text`` (server.properties) with each overridden key's line replaced in place;
    keys it lacks are appended, so every key is set exactly once."""
    out: list[str] = []
    left = dict(overrides)
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if not line.lstrip().startswith("#") and "=" in line and key in left:
            out.append(f"{key}={left.pop(key)}")
        else:
            out.append(line)
    if left:
        out.append("# Secure mode (riverbed stack up --secure)")
        out.extend(f"{key}={value}" for key, value in left.items())
    return "\n".join(out) + "\n"
