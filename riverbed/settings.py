"""Every setting Riverbed reads, in one place.

Values come from the environment (prefix ``RIVERBED_``) or a ``.env`` file; defaults
point at the local stack started by ``riverbed stack up``. Secrets are ``SecretStr`` so
they never print; use :func:`redact_url` to show a URL that embeds a password.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PASSWORDS = frozenset({"riverbed", "riverbed-owner", "changethis"})


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "riverbed"


class Settings(BaseSettings):
    """Riverbed's configuration, validated once at start."""

    model_config = SettingsConfigDict(
        env_prefix="RIVERBED_", env_file=".env", extra="ignore", frozen=True
    )

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="host:port[,host:port]")
    kafka_controller_port: int = 9093
    kafka_heap: str = Field("512m", description="JVM -Xmx of the local broker")
    kafka_version: str = "4.0.2"

    # PostgreSQL: the app role (workers, read side) and the owner role (migrations).
    postgres_dsn: SecretStr = SecretStr("postgresql://riverbed:riverbed@127.0.0.1:5432/riverbed")
    postgres_owner_dsn: SecretStr = SecretStr(
        "postgresql://riverbed_owner:riverbed-owner@127.0.0.1:5432/riverbed"
    )

    # MongoDB wire protocol (FerretDB locally, MongoDB in docker-compose)
    mongo_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    mongo_db: str = "riverbed"
    ferretdb_version: str = "v1.24.2"

    # Where the local stack keeps data (git-ignored) and downloads (outside the repo)
    data_dir: Path = Path(".riverbed")
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    stack_start_timeout: float = 120.0

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        for name in ("postgres_dsn", "postgres_owner_dsn"):
            secret: SecretStr = getattr(self, name)
            password = urlsplit(secret.get_secret_value()).password or ""
            if password in DEV_PASSWORDS:
                raise ValueError(
                    f"RIVERBED_{name.upper()} uses a development password; "
                    "set a real one for environment=production"
                )
        return self

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        first = self.kafka_bootstrap.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        return host or "127.0.0.1", int(port or 9092)


def redact_url(url: str | SecretStr) -> str:
    """The URL with its password replaced by ``***`` (safe to log or print)."""
    raw = url.get_secret_value() if isinstance(url, SecretStr) else url
    parts = urlsplit(raw)
    if parts.password is None:
        return raw
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
