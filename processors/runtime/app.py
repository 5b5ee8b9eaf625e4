"""The faust app of one worker kind, configured from settings only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from core.kafka import broker_credentials
from core.settings import Settings


def app_id(settings: Settings, kind: str) -> str:
    """The faust app id, which is also the consumer group of the kind."""
    return f"{settings.group_prefix}-{kind}"


def worker_datadir(data_dir: Path, app: str) -> Path:
    """faust's per-app data directory, under the data dir (not the working directory)."""
    return data_dir / "workers" / app


def create_app(settings: Settings, kind: str) -> faust.App:
    """One consumer group per kind: more workers of a kind share its partitions."""
    brokers = [f"kafka://{hp.strip()}" for hp in settings.kafka_bootstrap.split(",")]
    datadir = worker_datadir(settings.data_dir, app_id(settings, kind))
    datadir.parent.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    return faust.App(
        app_id(settings, kind),
        datadir=str(datadir),
        broker=brokers,
        broker_credentials=broker_credentials(settings),  # None: plaintext
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # faust's default is 60 s: a killed worker's partitions would stall that long.
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=settings.worker_session_timeout_s / 5,
        producer_acks=-1,
        producer_linger_ms=settings.publisher_linger_ms,
        producer_max_batch_size=settings.publisher_batch_bytes,
        producer_compression_type=None
        if settings.publisher_compression == "none"
        else settings.publisher_compression,
        topic_replication_factor=1,
        # Topics are created with their partition counts by `riverbed topics create`.
        topic_allow_declare=False,
    )


def raw_topic(app: faust.App, name: str) -> Any:
    """A topic read as raw bytes: decoding is ours (schemas.decode), not faust's."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,
    )


async def send_raw(
    app: faust.App,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
) -> Any:
    """Send through the app's producer and wait for the broker's ack."""
    fut = await app.producer.send(topic, key, value, None, None, headers)
    return await fut
