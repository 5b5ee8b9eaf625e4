"""Who may do what on the secure broker: the ACL plan, and creating it over the admin API.

One SCRAM principal per component; ``admin`` is a super user (the broker itself, topic
creation, these ACLs) and needs no ACL. With ``allow.everyone.if.no.acl.found=false``
everything not granted below is refused.

    principal   topics (LITERAL, with the topic prefix)              group / internal
    gateway     WRITE+DESCRIBE the three input topics                 none: cannot consume
    orders      READ orders; WRITE order-decisions, stock-alerts, dlq READ group <g>-orders;
    inventory   READ inventory; WRITE order-decisions, stock-alerts,  READ, WRITE, CREATE,
                dlq                                                   DESCRIBE topics
    viewing     READ viewing; WRITE dlq                               PREFIXED <g>-<kind>-
    dispatch    READ order-decisions, shoppers, deliveries; WRITE
                deliveries, dlq
    dashboard   DESCRIBE every topic; READ each worker kind's main     DESCRIBE groups
                input (orders, inventory, viewing, order-decisions),  <g>-<kind>; no group
                stock-alerts and dlq (no WRITE anywhere)
    dlq         READ+DESCRIBE dlq; WRITE+DESCRIBE the three input     none: reads by
                topics (never an output or internal topic)            assignment

No component needs ``admin`` at run time: the dashboard reads offsets, group state and
the alert/dead-letter tails (and one message per partition at a worker's committed
offset on its main topic, ``processors.kinds.WORKER_TOPICS``, for lag in seconds: hence
READ on those topics, the dispatch worker's ``order-decisions`` among them), and ``riverbed dlq``
replays only to input topics (see ``processors/runtime/dlq_replay.py``).

Both commerce workers may write both commerce outputs: they share one outbox table, and
the relay of either kind publishes what a crashed worker of the other kind left behind.
The prefixed internal topics are faust's own (``<app id>-__assignor-__leader`` and any
``<app id>-<table>-changelog``); with ``topic_allow_declare=False`` faust declares none
itself, and the broker creates the leader topic on the worker's first metadata request,
which needs CREATE there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from aiokafka import AIOKafkaClient
from aiokafka.protocol.admin import CreateAclsRequest

from core.errors import StackError
from processors.kinds import WORKER_TOPICS
from schemas.topics import (
    DELIVERIES_TOPIC,
    DLQ_TOPIC,
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    SHOPPERS_TOPIC,
    STOCK_ALERTS_TOPIC,
    TOPIC_PARTITIONS,
    VIEWING_TOPIC,
)

log = logging.getLogger(__name__)

ADMIN = "admin"
GATEWAY = "gateway"
DASHBOARD = "dashboard"
DLQ = "dlq"
GATEWAY_TOPICS = (ORDERS_TOPIC, INVENTORY_TOPIC, VIEWING_TOPIC)
ALL_TOPICS = tuple(TOPIC_PARTITIONS)  # every topic Riverbed creates
# The dashboard's tails (alerts, dead letters) and its lag-in-seconds reads: the main
# topic of every worker kind, as dashboard/sources/kafka.py reads it (a kind added to
# WORKER_TOPICS is covered without another list to keep in step).
DASHBOARD_READS = (*dict.fromkeys(WORKER_TOPICS.values()), STOCK_ALERTS_TOPIC, DLQ_TOPIC)
_COMMERCE_OUT = (ORDER_DECISIONS_TOPIC, STOCK_ALERTS_TOPIC, DLQ_TOPIC)


@dataclass(frozen=True)
class WorkerAccess:
    """The topics a worker kind consumes and the topics it produces to."""

    reads: tuple[str, ...]
    writes: tuple[str, ...]


WORKER_ACCESS: Mapping[str, WorkerAccess] = {
    "orders": WorkerAccess(reads=(ORDERS_TOPIC,), writes=_COMMERCE_OUT),
    "inventory": WorkerAccess(reads=(INVENTORY_TOPIC,), writes=_COMMERCE_OUT),
    "viewing": WorkerAccess(reads=(VIEWING_TOPIC,), writes=(DLQ_TOPIC,)),
    # Reads the order decisions and the shopper and delivery events of its stores; writes
    # delivery.assigned (its relay may publish what a crashed dispatch worker staged).
    "dispatch": WorkerAccess(
        reads=(ORDER_DECISIONS_TOPIC, SHOPPERS_TOPIC, DELIVERIES_TOPIC),
        writes=(DELIVERIES_TOPIC, DLQ_TOPIC),
    ),
}
PRINCIPALS = (ADMIN, GATEWAY, *WORKER_ACCESS, DASHBOARD, DLQ)


# Codes of the Kafka protocol (org.apache.kafka.common.acl / resource enums).
class Resource(IntEnum):
    TOPIC = 2
    GROUP = 3


class Operation(IntEnum):
    READ = 3
    WRITE = 4
    CREATE = 5
    DESCRIBE = 8


class Pattern(IntEnum):
    LITERAL = 3
    PREFIXED = 4


ALLOW = 3
CLUSTER_AUTHORIZATION_FAILED = 31


@dataclass(frozen=True, order=True)
class AclBinding:
    """ALLOW ``operation`` on a resource to ``User:principal`` from any host."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def __str__(self) -> str:
        kind = "prefixed " if self.pattern is Pattern.PREFIXED else ""
        return f"User:{self.principal} {self.operation.name} {kind}{self.resource.name.lower()} {self.name}"


def acl_plan(
    *,
    topic_prefix: str,
    group_prefix: str,
    workers: Mapping[str, WorkerAccess] = WORKER_ACCESS,
    gateway_topics: Iterable[str] = GATEWAY_TOPICS,
) -> list[AclBinding]:
    """Every ACL of the secure broker for one set of topic and group prefixes (sorted)."""
    plan: set[AclBinding] = set()

    def topic(principal: str, name: str, *ops: Operation) -> None:
        for op in ops:
            plan.add(AclBinding(principal, Resource.TOPIC, name, Pattern.LITERAL, op))

    for name in gateway_topics:
        topic(GATEWAY, topic_prefix + name, Operation.WRITE, Operation.DESCRIBE)
    for kind, access in workers.items():
        for name in access.reads:
            topic(kind, topic_prefix + name, Operation.READ, Operation.DESCRIBE)
        for name in access.writes:
            topic(kind, topic_prefix + name, Operation.WRITE, Operation.DESCRIBE)
        app_id = f"{group_prefix}-{kind}"  # faust's app id is its consumer group
        plan.add(AclBinding(kind, Resource.GROUP, app_id, Pattern.LITERAL, Operation.READ))
        for op in (Operation.READ, Operation.WRITE, Operation.CREATE, Operation.DESCRIBE):
            plan.add(AclBinding(kind, Resource.TOPIC, f"{app_id}-", Pattern.PREFIXED, op))
        plan.add(AclBinding(DASHBOARD, Resource.GROUP, app_id, Pattern.LITERAL, Operation.DESCRIBE))
    for name in ALL_TOPICS:
        topic(DASHBOARD, topic_prefix + name, Operation.DESCRIBE)
    for name in DASHBOARD_READS:
        topic(DASHBOARD, topic_prefix + name, Operation.READ)
    topic(DLQ, topic_prefix + DLQ_TOPIC, Operation.READ, Operation.DESCRIBE)
    for name in gateway_topics:
        topic(DLQ, topic_prefix + name, Operation.WRITE, Operation.DESCRIBE)
    return sorted(plan)


async def create_acls(client_kwargs: Mapping[str, Any], plan: Iterable[AclBinding]) -> int:
    """Create the ACLs (idempotent: an existing binding is kept); returns how many.

    ``client_kwargs`` are an admin principal's ``AIOKafkaClient`` arguments. aiokafka
    0.14 has the CreateAcls request (v1, which Kafka 4 still serves) but no admin method
    for it, so the request goes to the broker directly, one binding per request.
    """
    client = AIOKafkaClient(**client_kwargs)
    count = 0
    try:
        await client.bootstrap()
        node = client.get_random_node()
        for binding in plan:
            request = CreateAclsRequest(
                resource_type=int(binding.resource),
                resource_name=binding.name,
                resource_pattern_type_filter=int(binding.pattern),
                principal=f"User:{binding.principal}",
                host="*",
                operation=int(binding.operation),
                permission_type=ALLOW,
            )
            response = await client.send(node, request)
            for code, message in response.creation_responses:
                if code == CLUSTER_AUTHORIZATION_FAILED:
                    raise StackError(
                        f"kafka: this principal may not create ACLs (creating `{binding}`)",
                        fix="run as the admin principal: its settings are in "
                        "<data dir>/secure/admin.env",
                    )
                if code != 0:
                    raise StackError(
                        f"kafka: creating ACL `{binding}` failed: {message} (error {code})",
                        fix="read the broker log under <data dir>/logs/kafka.log",
                    )
            count += 1
    finally:
        with contextlib.suppress(Exception):
            await client.close()
    log.debug("created %d ACLs", count)
    return count
