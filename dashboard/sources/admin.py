"""Admin reads: topic partitions, consumer group state and members, committed offsets.

aiokafka 0.14 negotiates DescribeGroups v3 but decodes the answer with the v2 layout
(``DescribeGroupsRequest_v3.RESPONSE_TYPE``), which breaks the connection on Kafka 4.
This request offers only v1 and v2, whose layouts match, and is sent the way
``AIOKafkaAdminClient.describe_consumer_groups`` sends its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DescribeGroupsRequest_v1, DescribeGroupsRequest_v2
from aiokafka.protocol.api import Request


class _DescribeGroups(Request[DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2]):  # type: ignore[misc]
    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: Any) -> Any:
        return request_struct_class(self._groups)


@dataclass(frozen=True)
class GroupInfo:
    state: str  # Stable, Empty, Dead, PreparingRebalance, CompletingRebalance
    members: int


async def describe(
    admin: AIOKafkaAdminClient, group_ids: Sequence[str], coordinators: dict[str, int]
) -> dict[str, GroupInfo]:
    """State and member count of each group (one request per coordinator).

    ``coordinators`` caches each group's coordinator between calls; it is emptied when a
    request fails, so a moved coordinator is looked up again.
    """
    by_node: dict[int, list[str]] = {}
    for group in group_ids:
        if group not in coordinators:
            coordinators[group] = await admin.find_coordinator(group)
        by_node.setdefault(coordinators[group], []).append(group)
    out: dict[str, GroupInfo] = {}
    for node, groups in by_node.items():
        try:
            response = await admin._client.send(node, _DescribeGroups(groups))
        except Exception:
            coordinators.clear()
            raise
        for error_code, group, state, _ptype, _protocol, members in response.groups:
            if error_code == 0:
                out[group] = GroupInfo(state, len(members))
    return out


async def committed(admin: AIOKafkaAdminClient, group: str) -> dict[tuple[str, int], int]:
    """``(topic, partition) -> committed offset`` (the next offset the group reads)."""
    offsets = await admin.list_consumer_group_offsets(group)
    return {
        (tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0
    }


async def partitions(admin: AIOKafkaAdminClient, topics: Sequence[str]) -> dict[str, list[int]]:
    """The partitions of each topic that exists (a missing topic is left out)."""
    described = await admin.describe_topics(list(topics))
    return {
        t["topic"]: sorted(p["partition"] for p in t["partitions"])
        for t in described
        if t["error_code"] == 0 and t["partitions"]
    }
