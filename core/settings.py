"""Every setting Riverbed reads, in one place.

Values come from the environment (prefix ``RIVERBED_``), a ``.env`` file or, in that
order of precedence, a file per secret in ``/run/secrets`` named like its variable
(``riverbed_gateway_api_key``: where docker compose mounts its ``secrets``); defaults
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

DEV_PASSWORDS = frozenset({"riverbed", "riverbed-owner", "riverbed-reader", "changethis"})

# Compose's secrets directory. Only named when it exists: pydantic-settings warns on every
# Settings() about a missing one, and hosts outside containers have none.
SECRETS_DIR = Path("/run/secrets")


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "riverbed"


class Settings(BaseSettings):
    """Riverbed's configuration, validated once at start."""

    model_config = SettingsConfigDict(
        env_prefix="RIVERBED_",
        env_file=".env",
        secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None,
        extra="ignore",
        frozen=True,
    )

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per line"
    )

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="host:port[,host:port]")
    kafka_controller_port: int = 9093
    kafka_heap: str = Field("512m", description="JVM -Xmx of the local broker")
    kafka_node_heap: str = Field(
        "384m", description="JVM -Xmx of each node of `stack up --brokers 3`"
    )
    worker_session_timeout_s: float = Field(
        10.0, ge=6, description="a dead worker's partitions move to the others after this long"
    )
    kafka_version: str = "4.0.2"
    # Kafka client security (core/kafka.py); `riverbed stack up --secure`
    # writes a file of these per principal under <data_dir>/secure/.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="`SASL_SSL` for the secure broker"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = Field(None, description="SASL principal")
    kafka_password: SecretStr | None = Field(None, description="SASL password")
    kafka_ssl_cafile: Path | None = Field(
        None, description="PEM CA bundle that signed the broker (unset: system CAs)"
    )

    # PostgreSQL: the app role (workers, read side) and the owner role (migrations).
    postgres_dsn: SecretStr = SecretStr("postgresql://riverbed:riverbed@127.0.0.1:5432/riverbed")
    postgres_owner_dsn: SecretStr = SecretStr(
        "postgresql://riverbed_owner:riverbed-owner@127.0.0.1:5432/riverbed"
    )
    # Read-only role of the dashboard's read API: SELECT only, granted by `riverbed migrate`.
    postgres_reader_dsn: SecretStr = SecretStr(
        "postgresql://riverbed_reader:riverbed-reader@127.0.0.1:5432/riverbed"
    )

    # MongoDB wire protocol (FerretDB locally, MongoDB in docker-compose)
    mongo_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    mongo_db: str = "riverbed"
    ferretdb_version: str = "v1.24.2"

    # Publisher (producers/publisher.py)
    publisher_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "zstd"
    publisher_linger_ms: int = Field(5, ge=0)
    publisher_batch_bytes: int = Field(256 * 1024, ge=1024)
    publisher_max_pending: int = Field(20_000, ge=1, description="events awaiting broker ack")
    publisher_send_timeout_s: float = Field(30.0, gt=0, description="deadline for an ack")

    # HTTP gateway (producers/gateway)
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    gateway_url: str = Field(
        "http://127.0.0.1:8000", description="used by `simulate --via gateway`"
    )
    gateway_api_key: SecretStr | None = Field(
        None, description="a bootstrap key accepted by the gateway"
    )
    gateway_keys_file: Path = Path(".riverbed/api-keys.json")
    gateway_max_body_bytes: int = Field(1024 * 1024, ge=1024)
    gateway_max_batch: int = Field(1000, ge=1)
    gateway_rate_per_s: float = Field(2000.0, gt=0, description="per-key token refill rate")
    gateway_rate_burst: int = Field(4000, ge=1, description="per-key bucket size")
    gateway_tls_certfile: Path | None = Field(
        None, description="PEM certificate (chain): serve HTTPS; needs gateway_tls_keyfile"
    )
    gateway_tls_keyfile: Path | None = Field(
        None, description="PEM private key of gateway_tls_certfile"
    )
    gateway_behind_tls_proxy: bool = Field(
        False, description="production without gateway_tls_*: a TLS-terminating proxy is in front"
    )
    gateway_max_future_skew_s: float = Field(
        300.0, ge=0, description="occurred_at further ahead of the gateway's clock: 422"
    )
    gateway_old_event_age_s: float = Field(
        86_400.0, gt=0, description="older events are accepted, counted and flagged in a header"
    )
    gateway_player_token_secret: SecretStr | None = Field(
        None, description="HMAC key of signed player tokens (keys made with --player-tokens)"
    )
    gateway_auth_failures_per_min: int = Field(
        20, ge=1, description="failed authentications per client address per minute, then 429"
    )

    # Naming: tests and side-by-side deployments isolate themselves with these.
    topic_prefix: str = Field("", description="prepended to every Kafka topic name")
    group_prefix: str = Field("riverbed", description="consumer groups are <prefix>-<kind>")
    postgres_schema: str | None = Field(None, description="search_path for workers and reads")

    # Stream processors (processors/)
    sink_batch_size: int = Field(2000, ge=1, description="flush after this many events")
    sink_flush_ms: int = Field(250, ge=1, description="... or after this long")
    low_stock_threshold: int = Field(5, ge=0, description="default per-SKU alert threshold")
    metrics_port: int = Field(
        0,
        ge=0,
        description="first port of workers' /metrics (orders +0, inventory +1, viewing +2, dispatch +3); 0 = off",
    )
    metrics_host: str = Field("127.0.0.1", description="bind address of workers' /metrics")
    recs_retrain_s: float = Field(
        300.0, ge=0, description="the viewing worker retrains the recommender this often; 0 = never"
    )

    # Tracing (core/tracing.py): OpenTelemetry spans over OTLP/HTTP; off while unset.
    otel_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318); unset = tracing off",
    )
    otel_sample_ratio: float = Field(
        0.1, ge=0, le=1, description="share of new traces kept; children follow their parent"
    )
    otel_service_name: str = Field(
        "riverbed", description="services are <name>-gateway, <name>-orders, ..."
    )
    # Jaeger (v2) of the local stack: its query API and UI, and its OTLP/HTTP receiver.
    jaeger_url: str = Field(
        "http://127.0.0.1:16686", description="Jaeger query API and UI (dashboard links)"
    )
    jaeger_ui_url: str | None = Field(
        None, description="base of the dashboard's links to a trace (unset: jaeger_url)"
    )
    jaeger_otlp_port: int = Field(4318, description="OTLP/HTTP port of the local stack's Jaeger")
    jaeger_version: str = Field("v1.76.0", description="Go module version built by stack up")

    # Dispatch (processors/dispatch/)
    dispatch_window_ms: int = Field(
        150, ge=0, description="a store's order waits this long for others going its way"
    )
    dispatch_tick_ms: int = Field(50, ge=10, description="how often waiting orders are matched")
    dispatch_radius_km: float = Field(
        8.0, gt=0, description="shoppers farther than this from the store are not offered a trip"
    )
    dispatch_speed_kmh: float = Field(18.0, gt=0, description="street speed for routes and ETAs")
    dispatch_promise_min: int = Field(
        45, ge=1, description="an order delivered within this long of confirmation is on time"
    )

    # Dashboard and read API (dashboard/)
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8080
    dashboard_poll_interval_s: float = Field(1.0, gt=0, description="one shared poll per interval")
    dashboard_active_minutes: int = Field(15, ge=1, description="window for active viewers")
    dashboard_lag_alert_s: float = Field(30.0, gt=0, description="lag (seconds) shown as unhealthy")
    dashboard_keys_file: Path = Field(
        Path(".riverbed/reader-keys.json"), description="reader keys (`riverbed keys --reader`)"
    )
    dashboard_allowed_hosts: str = Field(
        "127.0.0.1,localhost,[::1]",
        description="Host header values served (comma-separated; dashboard_host is added)",
    )
    dashboard_max_streams: int = Field(
        100, ge=1, description="open /api/stream connections; then 503"
    )
    dashboard_statement_timeout_ms: int = Field(
        5000, ge=100, description="PostgreSQL statement_timeout of the read pool"
    )

    # Where the local stack keeps data (git-ignored) and downloads (outside the repo)
    data_dir: Path = Path(".riverbed")
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    stack_start_timeout: float = 120.0

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        problems = production_problems(self)
        if problems:
            raise ValueError(
                "not fit for environment=production (see SECURITY.md): " + "; ".join(problems)
            )
        return self

    @model_validator(mode="after")
    def _gateway_tls_both_or_neither(self) -> Settings:
        if (self.gateway_tls_certfile is None) != (self.gateway_tls_keyfile is None):
            raise ValueError(
                "RIVERBED_GATEWAY_TLS_CERTFILE and RIVERBED_GATEWAY_TLS_KEYFILE go together: "
                "set both to serve HTTPS, or neither to serve HTTP"
            )
        return self

    def topic(self, name: str) -> str:
        """The physical Kafka topic of a logical one (``schemas.topics`` names)."""
        return f"{self.topic_prefix}{name}"

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        first = self.kafka_bootstrap.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        return host or "127.0.0.1", int(port or 9092)


# What ``environment=production`` refuses: every secret and transport left at a
# development value, all reported at once so an operator fixes them in one pass.
MIN_KEY_CHARS = 32
MIN_KEY_DISTINCT = 12  # 32 random base64 characters have ~24 distinct ones


def production_problems(settings: Settings) -> list[str]:
    """Each setting that is not fit for production, with what to do (empty: fine)."""
    problems: list[str] = []
    for name in ("postgres_dsn", "postgres_owner_dsn", "postgres_reader_dsn"):
        password = urlsplit(getattr(settings, name).get_secret_value()).password or ""
        if password in DEV_PASSWORDS:
            problems.append(f"RIVERBED_{name.upper()} uses a development password")
    mongo = urlsplit(settings.mongo_uri.get_secret_value())
    if not mongo.username or not mongo.password:
        problems.append("RIVERBED_MONGO_URI has no credentials (user:password@)")
    elif mongo.password in DEV_PASSWORDS:
        problems.append("RIVERBED_MONGO_URI uses a development password")
    if settings.gateway_api_key is not None:
        key = settings.gateway_api_key.get_secret_value()
        if len(key) < MIN_KEY_CHARS or len(set(key)) < MIN_KEY_DISTINCT:
            problems.append(
                f"RIVERBED_GATEWAY_API_KEY is weak: use at least {MIN_KEY_CHARS} random "
                "characters (openssl rand -base64 32), or unset it and use riverbed keys"
            )
    token_secret = settings.gateway_player_token_secret
    if token_secret is not None and len(token_secret.get_secret_value()) < MIN_KEY_CHARS:
        problems.append(
            f"RIVERBED_GATEWAY_PLAYER_TOKEN_SECRET is weak: use at least {MIN_KEY_CHARS} "
            "random characters"
        )
    if settings.kafka_security_protocol != "SASL_SSL":
        problems.append("RIVERBED_KAFKA_SECURITY_PROTOCOL must be SASL_SSL")
    if not settings.kafka_username or settings.kafka_password is None:
        problems.append("RIVERBED_KAFKA_USERNAME and RIVERBED_KAFKA_PASSWORD are required")
    elif settings.kafka_password.get_secret_value() in DEV_PASSWORDS:
        problems.append("RIVERBED_KAFKA_PASSWORD uses a development password")
    if settings.gateway_tls_certfile is None and not settings.gateway_behind_tls_proxy:
        problems.append(
            "the gateway serves plain HTTP: set RIVERBED_GATEWAY_TLS_CERTFILE/_KEYFILE, or "
            "RIVERBED_GATEWAY_BEHIND_TLS_PROXY=true if a TLS-terminating proxy is in front"
        )
    return problems


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
