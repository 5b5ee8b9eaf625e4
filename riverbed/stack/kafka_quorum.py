"""What ``stack status`` says about a Kafka cluster: the controller quorum and the
partitions that lack a replica.

The quorum comes from the DescribeQuorum request (API 55, KIP-595), which any broker
forwards to the active controller. aiokafka 0.14 has no request class for it, so its
version 0 is declared here with aiokafka's own protocol types. Under-replicated
partitions are those whose in-sync replicas are fewer than their replicas, from the
metadata of every topic.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaClient
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.types import (
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)

METADATA_TOPIC = "__cluster_metadata"


class DescribeQuorumResponse_v0(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 55
    API_VERSION = 0
    SCHEMA = Schema(
        ("error_code", Int16),
        (
            "topics",
            CompactArray(
                ("topic_name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32),
                        ("error_code", Int16),
                        ("leader_id", Int32),
                        ("leader_epoch", Int32),
                        ("high_watermark", Int64),
                        (
                            "current_voters",
                            CompactArray(
                                ("replica_id", Int32),
                                ("log_end_offset", Int64),
                                ("tags", TaggedFields),
                            ),
                        ),
                        (
                            "observers",
                            CompactArray(
                                ("replica_id", Int32),
                                ("log_end_offset", Int64),
                                ("tags", TaggedFields),
                            ),
                        ),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class DescribeQuorumRequest_v0(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 55
    API_VERSION = 0
    RESPONSE_TYPE = DescribeQuorumResponse_v0
    SCHEMA = Schema(
        (
            "topics",
            CompactArray(
                ("topic_name", CompactString("utf-8")),
                ("partitions", CompactArray(("partition_index", Int32), ("tags", TaggedFields))),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class DescribeQuorumRequest(Request[DescribeQuorumRequest_v0]):  # type: ignore[misc]
    API_KEY = 55

    def build(
        self, request_struct_class: type[DescribeQuorumRequest_v0]
    ) -> DescribeQuorumRequest_v0:
        return request_struct_class([(METADATA_TOPIC, [(0, {})], {})], {})


@dataclass
class ClusterView:
    """The cluster as one broker describes it (empty fields: not answering)."""

    brokers: list[int] = field(default_factory=list)  # registered, unfenced
    leader: int | None = None  # the active controller
    epoch: int | None = None
    voters: list[int] = field(default_factory=list)
    lagging_voters: list[int] = field(default_factory=list)  # behind the leader's log end
    partitions: int = 0
    under_replicated: list[str] = field(default_factory=list)  # topic-partition
    offline: list[str] = field(default_factory=list)  # no leader
    error: str | None = None


async def describe_cluster(client_kwargs: dict[str, Any]) -> ClusterView:
    """Brokers, quorum and replication health through ``client_kwargs``' bootstrap."""
    view = ClusterView()
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # a node that is down logs refusals at ERROR
    client = AIOKafkaClient(request_timeout_ms=5000, **client_kwargs)
    try:
        await client.bootstrap()
        node = client.get_random_node()
        metadata = (await client.send(node, MetadataRequest())).to_object()  # every topic
        view.brokers = sorted(b["node_id"] for b in metadata["brokers"])
        for topic in metadata["topics"]:
            for p in topic["partitions"]:
                view.partitions += 1
                name = f"{topic['topic']}-{p['partition']}"
                if p["leader"] < 0:
                    view.offline.append(name)
                elif len(p["isr"]) < len(p["replicas"]):
                    view.under_replicated.append(name)
        quorum = await client.send(node, DescribeQuorumRequest())
        fields = quorum.to_object()
        part = fields["topics"][0]["partitions"][0]
        if fields["error_code"] or part["error_code"]:
            view.error = f"DescribeQuorum error {fields['error_code'] or part['error_code']}"
        else:
            view.leader, view.epoch = part["leader_id"], part["leader_epoch"]
            voters = part["current_voters"]
            view.voters = sorted(v["replica_id"] for v in voters)
            end = max((v["log_end_offset"] for v in voters), default=0)
            view.lagging_voters = sorted(
                v["replica_id"] for v in voters if v["log_end_offset"] < end - 100
            )
    except Exception as exc:
        view.error = f"{type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):
            await client.close()
        quiet.setLevel(level)
    return view
