"""Fixtures for the publisher, topic and gateway tests (names prefixed: the simulator
tests share this folder). Gateway test modules import ``BOOTSTRAP``, ``AUTH`` and
``order`` from here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr

from core.settings import Settings
from producers.gateway import KeyStore, ScryptParams
from schemas import ORDERS_TOPIC, VIEWING_TOPIC

PARTITIONS = 4
BOOTSTRAP = "bootstrap-key-for-tests-only"  # the gateway's bootstrap key in gw_settings
AUTH = {"X-API-Key": BOOTSTRAP}

ReadAll = Callable[..., Awaitable[list[ConsumerRecord[bytes, bytes]]]]
ReadAt = Callable[[str, int, int], Awaitable[ConsumerRecord[bytes, bytes]]]


@pytest.fixture
async def pub_topics(new_topics: Any) -> dict[str, str]:
    """Fresh stand-ins for the orders and viewing topics: rule topic -> test topic."""
    orders, viewing = await new_topics("orders", "viewing", partitions=PARTITIONS)
    return {ORDERS_TOPIC: orders, VIEWING_TOPIC: viewing}


def order(store: str = "store-1", n: int = 0, **extra: Any) -> dict[str, Any]:
    """An ``order.placed`` as a gateway client sends it."""
    return {
        "type": "order.placed",
        "version": 1,
        "payload": {
            "order_id": f"o-{n}",
            "customer_id": "c-1",
            "store_id": store,
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "3.10", "currency": "EUR"}],
        },
        **extra,
    }


@pytest.fixture
def gw_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Gateway settings: the bootstrap key, a key file of the test's own, no rate limit
    and no failed-authentication limit (the fuzzer sends many keyless requests)."""
    return settings.model_copy(
        update={
            "gateway_api_key": SecretStr(BOOTSTRAP),
            "gateway_keys_file": tmp_path / "api-keys.json",
            "gateway_max_body_bytes": 64 * 1024,
            "gateway_max_batch": 50,
            "gateway_rate_per_s": 1e6,
            "gateway_rate_burst": 10**6,
            "gateway_auth_failures_per_min": 10**6,
        }
    )


@pytest.fixture
def key_store(gw_settings: Settings) -> KeyStore:
    """The gateway's key store, with a scrypt cost fit for tests."""
    return KeyStore(gw_settings.gateway_keys_file, params=ScryptParams(n=16, r=1, p=1))


@pytest.fixture
def read_all(settings: Settings) -> ReadAll:
    """Every message of ``topics`` from the beginning, until ``count`` arrived."""

    async def read(
        topics: list[str], count: int, wait_s: float = 30
    ) -> list[ConsumerRecord[bytes, bytes]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(t, p) for t in topics for p in range(PARTITIONS)])
            await consumer.seek_to_beginning()
            records: list[ConsumerRecord[bytes, bytes]] = []
            async with asyncio.timeout(wait_s):
                while len(records) < count:
                    for batch in (await consumer.getmany(timeout_ms=500)).values():
                        records.extend(batch)
            return records
        finally:
            await consumer.stop()

    return read


@pytest.fixture
def read_at(settings: Settings) -> ReadAt:
    """The one message at (topic, partition, offset)."""

    async def read(topic: str, partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            async with asyncio.timeout(30):
                record: ConsumerRecord[bytes, bytes] = await consumer.getone(tp)
            return record
        finally:
            await consumer.stop()

    return read
