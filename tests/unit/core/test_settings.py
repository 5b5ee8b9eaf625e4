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
    ok = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        postgres_dsn=SecretStr("postgresql://app:Xk3-long-secret@db:5432/riverbed"),
        postgres_owner_dsn=SecretStr("postgresql://own:Yk3-long-secret@db:5432/riverbed"),
        postgres_reader_dsn=SecretStr("postgresql://rd:Zk3-long-secret@db:5432/riverbed"),
    )
    assert ok.environment == "production"
    with pytest.raises(ValidationError, match="RIVERBED_POSTGRES_READER_DSN"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="production",
            postgres_dsn=SecretStr("postgresql://app:Xk3-long-secret@db:5432/riverbed"),
            postgres_owner_dsn=SecretStr("postgresql://own:Yk3-long-secret@db:5432/riverbed"),
        )


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
