"""Topic creation as schemas.topics lays it out, on the real broker."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from core.settings import Settings
from producers.errors import TopicLayoutError
from producers.topic_admin import CO_PARTITIONED, describe_topics, ensure_topics
from schemas import DLQ_TOPIC, TOPIC_PARTITIONS, TOPIC_RULES


async def test_riverbeds_topics_exist_with_their_partition_counts(own_topics: Settings) -> None:
    mine = own_topics
    created = await ensure_topics(mine)  # creates whatever is missing
    assert await ensure_topics(mine) == []  # and only once
    assert sorted(created) == sorted(mine.topic(t) for t in TOPIC_PARTITIONS)
    rows = {row.name: row for row in await describe_topics(mine)}
    assert set(rows) == {mine.topic(n) for n in {rule.name for rule in TOPIC_RULES} | {DLQ_TOPIC}}
    for name, row in rows.items():
        logical = name.removeprefix(mine.topic_prefix)
        assert row.partitions == row.expected == TOPIC_PARTITIONS[logical]


async def test_ensure_topics_creates_missing_ones_once(
    settings: Settings, uid: str, kafka_admin: Any
) -> None:
    layout = {f"test.orders.{uid}": 4, f"test.dlq.{uid}": 2}
    try:
        assert await ensure_topics(settings, layout=layout) == sorted(layout)
        assert await ensure_topics(settings, layout=layout) == []
        rows = await describe_topics(settings, layout=layout)
        assert {r.name: r.partitions for r in rows} == layout
    finally:
        await kafka_admin.delete_topics(list(layout))


async def test_a_co_partitioned_topic_with_another_count_is_an_error(
    settings: Settings, new_topics: Any
) -> None:
    [orders] = await new_topics("orders", partitions=2)
    with pytest.raises(TopicLayoutError, match=r"has 2 partitions but must have 4.*co-partitioned"):
        await ensure_topics(settings, layout={orders: 4}, co_partitioned=frozenset({orders}))


async def test_another_topic_with_another_count_is_only_a_warning(
    settings: Settings, new_topics: Any, caplog: pytest.LogCaptureFixture
) -> None:
    [viewing] = await new_topics("viewing", partitions=2)
    with caplog.at_level(logging.WARNING, logger="producers.topic_admin"):
        assert await ensure_topics(settings, layout={viewing: 4}, co_partitioned=frozenset()) == []
    assert "has 2 partitions, expected 4" in caplog.text


def test_the_store_keyed_topics_are_the_co_partitioned_ones() -> None:
    assert {r.name for r in TOPIC_RULES if r.key_field == "store_id"} == CO_PARTITIONED
