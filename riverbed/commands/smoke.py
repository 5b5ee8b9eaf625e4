"""``riverbed smoke``: publish and consume a few events through the real broker."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

import click
from aiokafka.admin import NewTopic

from core.kafka import delete_groups, new_admin, new_consumer, new_producer
from core.settings import Settings, get_settings


async def smoke(settings: Settings, count: int, wait_seconds: float) -> tuple[int, float]:
    """Send ``count`` events to a fresh topic and read them back in a consumer group.

    The topic and the group are deleted afterwards: a smoke test leaves nothing behind.
    """
    topic = f"{settings.topic('riverbed.smoke')}.{uuid.uuid4().hex[:8]}"
    group = f"{topic}.group"
    t0 = time.monotonic()
    admin = new_admin(settings)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 4, 1)])
        try:
            received = await _round_trip(settings, topic, group, count, wait_seconds)
        finally:
            await delete_groups(admin, [group])
            await admin.delete_topics([topic])
    finally:
        await admin.close()
    return received, time.monotonic() - t0


async def _round_trip(
    settings: Settings, topic: str, group: str, count: int, wait_seconds: float
) -> int:
    producer = new_producer(settings, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for i in range(count):
            await producer.send(topic, f'{{"n": {i}}}'.encode(), key=str(i % 4).encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = new_consumer(
        settings,
        topic,
        group_id=group,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received = 0
    try:
        async with asyncio.timeout(wait_seconds):
            while received < count:
                batch = await consumer.getmany(timeout_ms=500)
                received += sum(len(m) for m in batch.values())
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return received


@click.command("smoke")
@click.option("--count", default=1000, show_default=True, help="Events to send and read back.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for them.")
def command(count: int, timeout: float) -> None:
    """Publish COUNT events and consume them again: a quick check of the broker."""
    received, seconds = asyncio.run(smoke(get_settings(), count, timeout))
    click.echo(f"smoke: sent {count}, received {received} in {seconds:.2f}s")
    sys.exit(0 if received == count else 1)
