"""Create Riverbed's topics as ``schemas.topics`` lays them out (idempotent).

Every rule topic and the dead-letter topic get their partition count. A store-keyed
topic that already exists with another count is an error, never "fixed": orders and
inventory are joined partition by partition (co-partitioning), and adding partitions
would also move existing keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from core.errors import RetryableError
from core.kafka import new_admin
from core.settings import Settings
from producers.errors import TopicLayoutError
from schemas.topics import TOPIC_PARTITIONS, TOPIC_RULES

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
_TOPIC_AUTHORIZATION_FAILED = 29
DEFAULT_RF = "default.replication.factor"
# Topics whose partition count other topics must share (see schemas.topics).
CO_PARTITIONED: frozenset[str] = frozenset(
    rule.name for rule in TOPIC_RULES if rule.key_field == "store_id"
)


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic as the broker reports it, next to what Riverbed expects."""

    name: str
    partitions: int | None  # None: missing
    expected: int | None  # None: not one of Riverbed's topics


async def ensure_topics(
    settings: Settings,
    *,
    layout: Mapping[str, int] = TOPIC_PARTITIONS,
    co_partitioned: frozenset[str] = CO_PARTITIONED,
) -> list[str]:
    """Create the missing topics of ``layout``; return the names created (maybe none).

    ``layout`` (name -> partitions) and ``co_partitioned`` default to Riverbed's own;
    tests pass unique names.

    Raises :class:`TopicLayoutError` for a co-partitioned topic with the wrong count
    (other wrong counts are logged) and ``RetryableError`` if Kafka is unreachable.
    The default layout gets ``settings.topic_prefix`` like every other topic name.
    """
    if layout is TOPIC_PARTITIONS and settings.topic_prefix:
        layout = {settings.topic(name): n for name, n in TOPIC_PARTITIONS.items()}
        co_partitioned = frozenset(settings.topic(name) for name in co_partitioned)
    admin = await _admin(settings)
    try:
        existing = await _partition_counts(admin, layout)
        _check(existing, layout, co_partitioned)
        missing = [name for name in layout if name not in existing]
        if not missing:
            return []
        replication, configs = await replication_for(admin)
        response = await admin.create_topics(
            [NewTopic(name, layout[name], replication, topic_configs=configs) for name in missing]
        )
        created = []
        for topic, code, message in response.topic_errors:
            if code == 0:
                created.append(topic)
            elif code == _TOPIC_AUTHORIZATION_FAILED:
                # A principal without CREATE (a worker on the secure broker) sees only
                # the topics its ACLs cover; the admin creates them (`stack up --secure`).
                log.warning("not allowed to create or see topic %s; the admin creates it", topic)
            elif code != _TOPIC_ALREADY_EXISTS:  # lost a race with another creator: fine
                raise TopicLayoutError(f"creating topic {topic} failed: {message} (code {code})")
        await _until_visible(admin, created)
        # A racing creator may have used another count: check what exists now.
        _check(await _partition_counts(admin, layout), layout, co_partitioned)
        return sorted(created)
    except KafkaError as exc:
        raise RetryableError(f"Kafka at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await admin.close()


async def replication_for(admin: AIOKafkaAdminClient) -> tuple[int, dict[str, str]]:
    """Replication factor and topic configs of a new topic: three replicas with
    ``min.insync.replicas=2`` on a cluster, one on a single broker.

    The count is the cluster's own ``default.replication.factor`` (what `stack up
    --brokers 3`, or an operator, configured), capped at 3, so a topic created while a
    node is down still gets its replicas (or fails) instead of quietly getting fewer;
    a principal not allowed to read broker configs counts the registered brokers.
    """
    brokers = (await admin.describe_cluster())["brokers"]
    configured = 0
    with contextlib.suppress(KafkaError, LookupError, ValueError, TypeError):
        resource = ConfigResource(
            ConfigResourceType.BROKER, str(brokers[0]["node_id"]), {DEFAULT_RF: None}
        )
        for response in await admin.describe_configs([resource]):
            for _code, _msg, _type, _name, entries in response.resources:
                configured = max([configured, *(int(e[1]) for e in entries if e[0] == DEFAULT_RF)])
    replication = min(3, max(configured, len(brokers)))
    # 2 of 3: an acks=all write survives one node's loss, and one node down stops nobody.
    configs = {"min.insync.replicas": "2"} if replication >= 3 else {}
    return replication, configs


async def describe_topics(
    settings: Settings, *, include_all: bool = False, layout: Mapping[str, int] = TOPIC_PARTITIONS
) -> list[TopicInfo]:
    """Riverbed's topics (and, with ``include_all``, every other one) with partition counts.

    The default layout gets ``settings.topic_prefix``, as in :func:`ensure_topics`.
    """
    if layout is TOPIC_PARTITIONS and settings.topic_prefix:
        layout = {settings.topic(name): n for name, n in TOPIC_PARTITIONS.items()}
    admin = await _admin(settings)
    try:
        names: Iterable[str] = layout
        if include_all:
            names = set(layout) | {t for t in await admin.list_topics() if not t.startswith("__")}
        counts = await _partition_counts(admin, names)
    except KafkaError as exc:
        raise RetryableError(f"Kafka at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await admin.close()
    return [TopicInfo(name, counts.get(name), layout.get(name)) for name in sorted(names)]


async def _admin(settings: Settings) -> AIOKafkaAdminClient:
    admin = new_admin(settings, client_id="riverbed-topics")
    try:
        await admin.start()
    except (KafkaError, OSError) as exc:
        await admin.close()
        raise RetryableError(
            f"cannot connect to Kafka at {settings.kafka_bootstrap}: {exc}"
        ) from exc
    return admin


async def _until_visible(admin: AIOKafkaAdminClient, names: list[str], wait_s: float = 15) -> None:
    """Return once the broker's metadata lists ``names``: CreateTopics answers when the
    controller has committed, and a loaded broker was seen serving metadata without the
    new topics for a moment after that (a describe then found no partitions)."""
    deadline = time.monotonic() + wait_s
    while names and not set(names) <= set(await admin.list_topics()):
        if time.monotonic() > deadline:
            raise RetryableError(f"topics {names} created but not yet visible after {wait_s}s")
        await asyncio.sleep(0.1)


async def _partition_counts(admin: AIOKafkaAdminClient, names: Iterable[str]) -> dict[str, int]:
    """Partition count of each named topic that exists."""
    # Describe only topics that exist: a metadata request naming a missing topic makes a
    # broker with auto.create.topics.enable create it, with its default partition count.
    existing = set(await admin.list_topics()).intersection(names)
    if not existing:
        return {}
    described = await admin.describe_topics(sorted(existing))
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


def _check(
    existing: Mapping[str, int], layout: Mapping[str, int], co_partitioned: frozenset[str]
) -> None:
    for name, count in existing.items():
        expected = layout.get(name)
        if expected is None or count == expected:
            continue
        if name in co_partitioned:
            raise TopicLayoutError(
                f"topic {name} has {count} partitions but must have {expected}: it is "
                f"co-partitioned by store_id with {', '.join(sorted(co_partitioned - {name})) or 'its peers'}. "
                "Recreate it (losing its data) or migrate to a new topic; adding partitions "
                "would move existing keys"
            )
        log.warning("topic %s has %d partitions, expected %d", name, count, expected)
