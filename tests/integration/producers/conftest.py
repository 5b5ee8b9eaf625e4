"""Fixtures for the publisher, topic and gateway tests (names prefixed: the simulator
tests share this folder)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from riverbed.settings import Settings
from schemas import ORDERS_TOPIC, VIEWING_TOPIC

PARTITIONS = 4

ReadAll = Callable[..., Awaitable[list[ConsumerRecord[bytes, bytes]]]]
ReadAt = Callable[[str, int, int], Awaitable[ConsumerRecord[bytes, bytes]]]


@pytest.fixture
async def pub_topics(new_topics: Any) -> dict[str, str]:
    """Fresh stand-ins for the orders and viewing topics: rule topic -> test topic."""
    orders, viewing = await new_topics("orders", "viewing", partitions=PARTITIONS)
    return {ORDERS_TOPIC: orders, VIEWING_TOPIC: viewing}


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
