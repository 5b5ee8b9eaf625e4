"""Every Kafka client comes from ``core.kafka``'s factory, with the settings' security."""

from __future__ import annotations

import ast
import ssl
from pathlib import Path
from typing import Any

import pytest

from core.kafka import new_admin, new_consumer, new_producer
from core.settings import Settings
from riverbed.stack.tls import TlsFiles, write_local_ca

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
CLIENT_CLASSES = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}


def sasl_ssl(tmp_path: Path) -> Settings:
    files = TlsFiles(tmp_path)
    write_local_ca(files, hosts=["127.0.0.1"])
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        kafka_bootstrap="127.0.0.1:19093",
        kafka_security_protocol="SASL_SSL",
        kafka_username="orders",
        kafka_password="s3cret",  # type: ignore[arg-type]
        kafka_ssl_cafile=files.ca_cert,
    )


def connection(client: Any) -> dict[str, Any]:
    # aiokafka's AIOKafkaClient inside (``client`` on a producer, ``_client`` elsewhere):
    # where the connection arguments end up.
    inner = getattr(client, "_client", None) or client.client
    return {
        "bootstrap": inner._bootstrap_servers,
        "protocol": inner._security_protocol,
        "mechanism": inner._sasl_mechanism,
        "user": inner._sasl_plain_username,
        "password": inner._sasl_plain_password,
        "ssl": inner._ssl_context,
    }


async def test_each_client_kind_gets_sasl_ssl_from_the_settings(tmp_path: Path) -> None:
    settings = sasl_ssl(tmp_path)
    clients = [
        new_producer(settings, acks="all", enable_idempotence=True),
        new_consumer(settings, "some.topic", group_id="g", enable_auto_commit=False),
        new_admin(settings, request_timeout_ms=5000),
    ]
    for client in clients:
        got = connection(client)
        context = got.pop("ssl")
        assert got == {
            "bootstrap": "127.0.0.1:19093",
            "protocol": "SASL_SSL",
            "mechanism": "SCRAM-SHA-512",
            "user": "orders",
            "password": "s3cret",
        }, type(client).__name__
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode is ssl.CERT_REQUIRED
    assert clients[1].subscription() == {"some.topic"}
    await close(*clients)


async def close(*clients: Any) -> None:
    for client in clients:
        await (client.close() if hasattr(client, "close") else client.stop())


async def test_plaintext_clients_get_only_the_bootstrap_servers() -> None:
    settings = Settings(_env_file=None, kafka_bootstrap="10.0.0.1:9092")  # type: ignore[call-arg]
    producer = new_producer(settings)
    got = connection(producer)
    await close(producer)
    assert (got["bootstrap"], got["protocol"], got["ssl"]) == ("10.0.0.1:9092", "PLAINTEXT", None)


@pytest.mark.parametrize("arg", ["bootstrap_servers", "security_protocol", "sasl_plain_password"])
async def test_a_caller_cannot_override_the_connection(tmp_path: Path, arg: str) -> None:
    settings = sasl_ssl(tmp_path)
    for factory in (new_producer, new_consumer, new_admin):
        with pytest.raises(TypeError, match=arg):
            factory(settings, **{arg: "x"})


def test_no_module_builds_a_kafka_client_by_hand() -> None:
    """Outside ``core/kafka.py`` (and tests), no code calls an aiokafka client class."""
    by_hand = []
    for package in (
        "core",
        "schemas",
        "stores",
        "producers",
        "processors",
        "dashboard",
        "riverbed",
    ):
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "core" / "kafka.py" or "node_modules" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name | ast.Attribute)
                    and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
                    in CLIENT_CLASSES
                ):
                    by_hand.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert by_hand == []
