from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from core.settings import Settings, redact_url

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_riverbed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defaults are what these tests check: ignore RIVERBED_* set by the caller."""
    import os

    for name in [n for n in os.environ if n.startswith("RIVERBED_")]:
        monkeypatch.delenv(name)


def test_defaults_point_at_the_local_stack() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.kafka_host_port == ("127.0.0.1", 9092)
    assert "127.0.0.1:5432" in s.postgres_dsn.get_secret_value()
    assert s.mongo_uri.get_secret_value().startswith("mongodb://127.0.0.1:27017")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERBED_KAFKA_BOOTSTRAP", "broker:19092,other:19092")
    monkeypatch.setenv("RIVERBED_MONGO_DB", "elsewhere")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.kafka_host_port == ("broker", 19092)
    assert s.mongo_db == "elsewhere"


def test_secrets_do_not_print() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    text = f"{s!r} {s}"
    assert "riverbed-owner@" not in text
    assert "riverbed:riverbed@" not in text


PRODUCTION = {
    "environment": "production",
    "postgres_dsn": "postgresql://app:Xk3-long-secret@db:5432/riverbed",
    "postgres_owner_dsn": "postgresql://own:Yk3-long-secret@db:5432/riverbed",
    "postgres_reader_dsn": "postgresql://rd:Zk3-long-secret@db:5432/riverbed",
    "mongo_uri": "mongodb://app:Mk3-long-secret@mongo:27017/?authSource=admin",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_username": "gateway",
    "kafka_password": "Kk3-long-secret",
    "gateway_behind_tls_proxy": True,
}


def production(**changes: object) -> Settings:
    values = {k: v for k, v in {**PRODUCTION, **changes}.items() if v is not None}
    return Settings.model_validate({"_env_file": None, **values})


def test_a_secrets_file_named_like_the_variable_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docker compose mounts `secrets` as /run/secrets/<name>: the gateway and simulator get
    their API key as the file riverbed_gateway_api_key (docker-compose.yml)."""
    (tmp_path / "riverbed_gateway_api_key").write_text("from-the-file\n", encoding="utf-8")
    s = Settings(_env_file=None, _secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert s.gateway_api_key is not None
    assert s.gateway_api_key.get_secret_value() == "from-the-file"
    # The environment wins over the file, as it does for every other setting.
    monkeypatch.setenv("RIVERBED_GATEWAY_API_KEY", "from-the-environment")
    s = Settings(_env_file=None, _secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert s.gateway_api_key is not None
    assert s.gateway_api_key.get_secret_value() == "from-the-environment"


def test_production_refuses_development_passwords() -> None:
    with pytest.raises(ValidationError, match="development password"):
        Settings(_env_file=None, environment="production")  # type: ignore[call-arg]
    assert production().environment == "production"
    with pytest.raises(ValidationError, match="RIVERBED_POSTGRES_READER_DSN"):
        production(postgres_reader_dsn=None)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"mongo_uri": "mongodb://mongo:27017/"}, "RIVERBED_MONGO_URI has no credentials"),
        ({"mongo_uri": "mongodb://riverbed:riverbed@mongo:27017/"}, "RIVERBED_MONGO_URI uses"),
        ({"gateway_api_key": "short-key"}, "RIVERBED_GATEWAY_API_KEY is weak"),
        ({"gateway_api_key": "a" * 64}, "RIVERBED_GATEWAY_API_KEY is weak"),
        ({"kafka_security_protocol": "PLAINTEXT"}, "must be SASL_SSL"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "must be SASL_SSL"),
        ({"kafka_password": None}, "RIVERBED_KAFKA_PASSWORD are required"),
        ({"kafka_password": "riverbed"}, "RIVERBED_KAFKA_PASSWORD uses"),
        ({"gateway_behind_tls_proxy": False}, "serves plain HTTP"),
        ({"gateway_player_token_secret": "short"}, "PLAYER_TOKEN_SECRET is weak"),
    ],
)
def test_production_refuses_each_weak_secret_and_plaintext_transport(
    changes: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        production(**changes)


def test_production_accepts_a_strong_bootstrap_key_and_gateway_tls(tmp_path: object) -> None:
    ok = production(
        gateway_api_key="q8Zr1vN3xT0pLk2Wm9Yb7Hc5Jd4Fg6Se",
        gateway_behind_tls_proxy=False,
        gateway_tls_certfile="cert.pem",
        gateway_tls_keyfile="key.pem",
    )
    assert ok.gateway_tls_certfile is not None


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, environment="production")  # type: ignore[call-arg]
    text = str(raised.value)
    for fragment in ("POSTGRES_DSN", "MONGO_URI", "SASL_SSL", "plain HTTP"):
        assert fragment in text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/"),
        (
            SecretStr("mongodb://root:pw@mongo:27017/?authSource=admin"),
            "mongodb://root:***@mongo:27017/?authSource=admin",
        ),
    ],
)
def test_redact_url(url: str | SecretStr, shown: str) -> None:
    assert redact_url(url) == shown
