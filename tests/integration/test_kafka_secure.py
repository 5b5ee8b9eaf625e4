"""``stack up --secure``: a SASL_SSL broker of its own (free ports, tmp data dir) refuses
whom it must and lets each principal do exactly its job."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from core.kafka import client_kwargs, new_admin
from core.settings import Settings
from processors.kinds import KINDS
from producers.errors import PublishError
from producers.publisher import Publisher
from riverbed.sandbox import Namespace
from riverbed.stack.acls import ADMIN, PRINCIPALS, acl_plan, create_acls
from riverbed.stack.base import StackPaths
from riverbed.stack.kafka import Kafka
from riverbed.stack.manager import Stack
from schemas import (
    DLQ_TOPIC,
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    VIEWING_TOPIC,
    Envelope,
    OrderPlaced,
    decode,
    new_event,
)
from tests.integration.ports import free_ports


@dataclass
class Secure:
    settings: Settings  # the broker's settings (no credentials)
    kafka: Kafka
    startup_s: float

    def as_(self, principal: str) -> Settings:
        return self.kafka.secure_broker.client_settings(principal)

    def env(self, principal: str) -> dict[str, str]:
        """The ``RIVERBED_*`` variables ``stack up --secure`` wrote for ``principal``."""
        lines = self.kafka.secure_broker.env_file(principal).read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))

    def cli(self, env: dict[str, str], *args: str) -> str:
        """Run ``python -m riverbed ARGS``; its output, after checking it printed no
        password and exited 0."""
        result = subprocess.run(
            [sys.executable, "-m", "riverbed", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
            check=False,
        )
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        assert not [p for p in self.kafka.secure_broker.passwords().values() if p in out]
        return out

    def kwargs(self, principal: str) -> dict[str, Any]:
        creds = self.as_(principal)
        return {
            "bootstrap_servers": creds.kafka_bootstrap,
            "request_timeout_ms": 10_000,
            **client_kwargs(creds),
        }


@pytest.fixture(scope="module")
async def secure(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Secure]:
    port, controller_port = free_ports(2)
    own = settings.model_copy(
        update={
            "kafka_bootstrap": f"127.0.0.1:{port}",
            "kafka_controller_port": controller_port,
            "data_dir": tmp_path_factory.mktemp("secure-kafka"),
            "kafka_heap": "384m",
        }
    )
    kafka = Kafka(own, StackPaths.from_settings(own), secure=True)
    stack = Stack(own, services=[kafka])
    t0 = time.monotonic()
    await stack.up(lambda m: print(f"[secure] {m}"))
    startup = time.monotonic() - t0
    print(f"[secure] broker up (format, start, ACLs, topics) in {startup:.1f}s")
    try:
        yield Secure(own, kafka, startup)
    finally:
        await stack.down(lambda m: print(f"[secure] {m}"))


def order(store: str = "s1", customer: str = "nobody") -> Envelope[Any]:
    line = {"sku": "A", "quantity": 1, "unit_price": Decimal("2.50"), "currency": "EUR"}
    payload = OrderPlaced.model_validate(
        {
            "order_id": f"o-{os.urandom(4).hex()}",
            "customer_id": customer,
            "store_id": store,
            "lines": [line],
        }
    )
    return new_event(payload, source="test")


async def produce(kwargs: dict[str, Any], topic: str) -> Any:
    producer = AIOKafkaProducer(**kwargs, acks="all")
    await producer.start()
    try:
        return await asyncio.wait_for(producer.send_and_wait(topic, b"v", key=b"k"), 20)
    finally:
        await producer.stop()


# --- files --------------------------------------------------------------------------------


def test_secrets_are_private_files_and_the_ca_is_there(secure: Secure) -> None:
    folder = secure.kafka.secure_broker.directory
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for principal in PRINCIPALS:
        assert stat.S_IMODE((folder / f"{principal}.env").stat().st_mode) == 0o600
    for secret in ("ca-key.pem", "broker-keystore.pem"):
        assert stat.S_IMODE((folder / secret).stat().st_mode) == 0o600
    assert (folder / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    passwords = secure.kafka.secure_broker.passwords()
    assert len(set(passwords.values())) == len(PRINCIPALS)
    log = (secure.settings.data_dir / "logs" / "kafka.log").read_text()
    assert not [p for p in passwords.values() if p in log]


def test_cli_reuses_the_secure_broker_and_prints_no_password(secure: Secure) -> None:
    env = {
        "RIVERBED_KAFKA_BOOTSTRAP": secure.settings.kafka_bootstrap,
        "RIVERBED_KAFKA_CONTROLLER_PORT": str(secure.settings.kafka_controller_port),
        "RIVERBED_DATA_DIR": str(secure.settings.data_dir),
    }
    out = secure.cli(env, "stack", "up", "--secure")
    assert "kafka: already running" in out
    assert "kafka is secure" in out
    assert "orders.env" in out


# --- who is refused -----------------------------------------------------------------------


async def test_plaintext_client_is_refused(secure: Secure) -> None:
    with pytest.raises(KafkaConnectionError):
        await produce({"bootstrap_servers": secure.settings.kafka_bootstrap}, ORDERS_TOPIC)


async def test_tls_client_without_sasl_is_refused(secure: Secure) -> None:
    kwargs = secure.kwargs("gateway")
    kwargs = {
        "bootstrap_servers": kwargs["bootstrap_servers"],
        "security_protocol": "SSL",
        "ssl_context": kwargs["ssl_context"],
    }
    with pytest.raises(KafkaConnectionError):
        await produce(kwargs, ORDERS_TOPIC)


async def test_wrong_password_is_refused_by_the_broker(secure: Secure) -> None:
    kwargs = secure.kwargs("gateway")
    host, port = secure.settings.kafka_host_port
    with pytest.raises(SaslAuthenticationFailed):
        await create_conn(
            host,
            port,
            ssl_context=kwargs["ssl_context"],
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_plain_username="gateway",
            sasl_plain_password="not-the-password",
        )
    # The clients wrap it: a producer fails to bootstrap, the Publisher says so.
    wrong = secure.as_("gateway").model_copy(
        update={"kafka_password": SecretStr("not-the-password"), "publisher_send_timeout_s": 10.0}
    )
    with pytest.raises(PublishError, match="cannot connect to Kafka"):
        await Publisher(wrong).start()


async def _first_sample(source: Any) -> dict[str, Any]:
    """The first sample that succeeds, as the dashboard's poller gets it: on a new broker
    the group coordinator answers only once the offsets topic exists (a retriable
    error until then), and the poller simply samples again at its next tick."""
    while True:
        try:
            sampled: dict[str, Any] = await source.sample()
            return sampled
        except KafkaError as exc:
            if not exc.retriable:
                raise
            await asyncio.sleep(0.5)


@pytest.mark.parametrize("output", [ORDER_DECISIONS_TOPIC, DLQ_TOPIC])
async def test_gateway_cannot_produce_to_output_topics(secure: Secure, output: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(secure.kwargs("gateway"), secure.settings.topic(output))


async def test_gateway_cannot_consume(secure: Secure) -> None:
    topic = secure.settings.topic(ORDERS_TOPIC)
    grouped = AIOKafkaConsumer(topic, group_id="gateway-snoop", **secure.kwargs("gateway"))
    with pytest.raises(GroupAuthorizationFailedError):
        await grouped.start()
        await grouped.getmany(timeout_ms=5000)
    await grouped.stop()
    # Without a group: fetching the partition needs READ on the topic.
    plain = AIOKafkaConsumer(**secure.kwargs("gateway"), auto_offset_reset="earliest")
    await plain.start()
    try:
        plain.assign([TopicPartition(topic, 0)])
        with pytest.raises(TopicAuthorizationFailedError):
            async with asyncio.timeout(20):
                while True:
                    await plain.getmany(timeout_ms=1000)
    finally:
        await plain.stop()


async def test_worker_cannot_read_another_kinds_input(secure: Secure) -> None:
    consumer = AIOKafkaConsumer(
        secure.settings.topic(VIEWING_TOPIC),
        **secure.kwargs("orders"),
        auto_offset_reset="earliest",
    )
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await consumer.start()
            async with asyncio.timeout(20):
                while True:
                    await consumer.getmany(timeout_ms=1000)
    finally:
        await consumer.stop()


# --- who may ------------------------------------------------------------------------------


async def test_gateway_publisher_writes_inputs_and_the_worker_consumes_them(
    secure: Secure,
) -> None:
    event = order(store=f"s-{os.urandom(3).hex()}")
    async with Publisher(secure.as_("gateway")) as publisher:
        delivery = await publisher.publish(event)
    stock = await produce(secure.kwargs("gateway"), secure.settings.topic(INVENTORY_TOPIC))
    assert delivery.topic == secure.settings.topic(ORDERS_TOPIC)
    assert stock.topic == secure.settings.topic(INVENTORY_TOPIC)

    # The orders principal reads its input in its own consumer group.
    worker = secure.as_("orders")
    consumer = AIOKafkaConsumer(
        group_id=f"{worker.group_prefix}-orders",
        enable_auto_commit=False,
        **secure.kwargs("orders"),
    )
    await consumer.start()
    try:
        tp = TopicPartition(delivery.topic, delivery.partition)
        consumer.assign([tp])
        consumer.seek(tp, delivery.offset)
        got: list[Any] = []
        async with asyncio.timeout(30):
            while not got:
                got.extend((await consumer.getmany(tp, timeout_ms=1000)).get(tp, []))
        assert decode(got[0].value, got[0].headers) == event
        await consumer.commit({tp: delivery.offset + 1})  # group READ works too
    finally:
        await consumer.stop()


async def test_orders_worker_runs_end_to_end_as_its_principal(
    secure: Secure, uid: str, tmp_path: Path
) -> None:
    """``python -m riverbed worker orders`` as ``orders``: consumes what the gateway
    principal published and emits the decision, in a namespace of its own."""
    ns = Namespace(secure.as_(ADMIN), uid, tmp_path)
    await ns.create()
    plan = acl_plan(topic_prefix=ns.prefix, group_prefix=f"t{uid}")
    await create_acls(secure.kwargs(ADMIN), plan)
    orders_env = secure.env("orders")
    try:
        ns.start("orders", extra_env=orders_env)
        event = order(customer="ghost")  # unknown customer: a rejection, still a decision
        topics = {ORDERS_TOPIC: ns.topic(ORDERS_TOPIC)}
        async with Publisher(secure.as_("gateway"), topics=topics) as publisher:
            await publisher.publish(event)
        decisions = await ns.read(ORDER_DECISIONS_TOPIC, expect=1, wait_s=120)
        decided = [decode(m.value, m.headers) for m in decisions]
        assert [d.payload.order_id for d in decided] == [event.payload.order_id]
        assert decided[0].type == "order.rejected"
    finally:
        print(ns.logs())
        await ns.drop()


async def test_smoke_runs_against_the_secure_broker_and_leaves_nothing(secure: Secure) -> None:
    """``riverbed smoke`` as the admin principal: every client it builds gets SASL_SSL
    from the settings (it once passed its security arguments twice and raised)."""
    env = {**secure.env(ADMIN), "RIVERBED_DATA_DIR": str(secure.settings.data_dir)}
    out = await asyncio.to_thread(secure.cli, env, "smoke", "--count", "40", "--timeout", "60")
    assert "sent 40, received 40" in out

    admin = new_admin(secure.as_(ADMIN))
    await admin.start()
    try:
        assert [t for t in await admin.list_topics() if "smoke" in t] == []
        assert [g[0] for g in await admin.list_consumer_groups() if "smoke" in g[0]] == []
    finally:
        await admin.close()


# --- the read side's principals -----------------------------------------------------------


async def test_the_dashboard_principal_samples_kafka_and_cannot_write(secure: Secure) -> None:
    """The dashboard's Kafka source (offsets, groups, lag, DLQ count) and its tails run
    as ``dashboard``, which may write nothing."""
    from dashboard.config import DashboardConfig
    from dashboard.sources.kafka import KafkaSource
    from dashboard.sources.tail import TailSource

    as_dashboard = secure.as_("dashboard")
    source = KafkaSource(as_dashboard, DashboardConfig())
    tail = TailSource(as_dashboard, size=5)
    try:
        sampled = await asyncio.wait_for(_first_sample(source), 60)
        assert [g["kind"] for g in sampled["groups"]] == list(KINDS)
        assert sampled["dlq_count"] >= 0
        assert set(await asyncio.wait_for(tail.sample(), 60)) == {"alerts", "dead_letters"}
    finally:
        await source.close()
        await tail.close()
    for topic in (ORDERS_TOPIC, DLQ_TOPIC):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(secure.kwargs("dashboard"), secure.settings.topic(topic))


@pytest.mark.parametrize("output", [ORDER_DECISIONS_TOPIC, DLQ_TOPIC])
async def test_the_dlq_principal_cannot_write_outputs_or_the_dlq(
    secure: Secure, output: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(secure.kwargs("dlq"), secure.settings.topic(output))


async def test_dlq_replay_runs_as_its_own_principal(secure: Secure) -> None:
    """``riverbed dlq replay`` as ``dlq``: reads the dead-letter topic and writes an input."""
    await produce(secure.kwargs("dlq"), secure.settings.topic(ORDERS_TOPIC))
    env = {**secure.env("dlq"), "RIVERBED_DATA_DIR": str(secure.settings.data_dir)}
    out = await asyncio.to_thread(secure.cli, env, "dlq", "replay", "--dry-run")
    assert "replayed 0 event(s) (dry run)" in out
