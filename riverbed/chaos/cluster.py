"""Faults of a replicated Kafka cluster (``riverbed chaos --cluster``), and the stall.

They act on the nodes ``riverbed stack up --brokers 3`` started (the same run state
``stack status`` reads) and bring every node back before they return, so the next
scenario starts on a whole cluster:

* :func:`kill_leader`: ``kill -9`` of the node leading the busiest partition (the
  input partition with the most records), mid-stream; it is started again after
  ``LEADER_DOWN_S``. Replication 3 and ``min.insync.replicas=2`` keep every
  acknowledged write and keep writes going while it is gone.
* :func:`rolling_restart`: every node in turn stopped gracefully (controlled
  shutdown), started, and waited for until no partition is under-replicated.
* :func:`two_down`: ``kill -9`` of two nodes: no controller quorum and fewer in-sync
  replicas than ``min.insync.replicas``, so producers and workers must wait. One node
  returns after ``TWO_DOWN_S``, the other after ``ONE_DOWN_S`` more.

The *stall* of a run is the longest time nothing was committed while the stream was
still being published, or while there was lag after it (:func:`longest_stall`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import TopicPartition

from core.kafka import new_admin, new_consumer
from riverbed.chaos.faults import FaultError, Harness, _kill_9, own_pid
from riverbed.chaos.progress import Sample
from riverbed.stack.kafka import Kafka
from riverbed.stack.kafka_quorum import describe_cluster
from riverbed.stack.manager import Stack
from schemas import ORDERS_TOPIC, TOPIC_PARTITIONS, VIEWING_TOPIC

LEADER_DOWN_S = 5.0
TWO_DOWN_S = 10.0
ONE_DOWN_S = 5.0
SETTLE_S = 90.0  # a restarted node catches up and rejoins every ISR within this


def nodes(h: Harness) -> list[tuple[Kafka, int]]:
    """Every node of the local cluster with its pid; refuses a single broker or a node
    this data dir did not start."""
    stack = Stack(h.settings)
    found = []
    for node in stack.kafka():
        pid = own_pid(stack, node)
        if pid is None:
            raise FaultError(
                f"{node.name} at {node.address} is not running from `riverbed stack up` with "
                f"data dir {stack.paths.data}: the cluster faults act only on our own nodes"
            )
        found.append((node, pid))
    if len(found) < 3:
        raise FaultError(
            f"the local Kafka has {len(found)} node(s): run `riverbed stack up --brokers 3` "
            "for the cluster scenarios"
        )
    return found


async def busiest_leader(h: Harness) -> tuple[int, str]:
    """The node leading the input partition with the most records, and that partition."""
    topics = [h.ns.topic(t) for t in (ORDERS_TOPIC, VIEWING_TOPIC)]
    parts = [
        TopicPartition(h.ns.topic(t), p)
        for t in (ORDERS_TOPIC, VIEWING_TOPIC)
        for p in range(TOPIC_PARTITIONS[t])
    ]
    consumer = new_consumer(h.ns.settings, enable_auto_commit=False)
    admin = new_admin(h.ns.settings)
    await consumer.start()
    await admin.start()
    try:
        ends = await consumer.end_offsets(parts)
        busiest = max(parts, key=lambda tp: ends[tp])
        for topic in await admin.describe_topics(topics):
            if topic["topic"] == busiest.topic:
                for p in topic["partitions"]:
                    if p["partition"] == busiest.partition:
                        return int(p["leader"]), f"{busiest.topic}-{busiest.partition}"
    finally:
        await consumer.stop()
        await admin.close()
    raise FaultError(f"no leader found for {busiest}")


async def kill_leader(h: Harness, *, restart: bool = True) -> str:
    """``restart=False`` leaves the node down (a test that throws the cluster away)."""
    leader, partition = await busiest_leader(h)
    node, pid = next((n, p) for n, p in nodes(h) if n.node.node_id == leader)
    t0 = time.monotonic()
    await asyncio.to_thread(_kill_9, pid, node.marker)
    if not restart:
        return f"kill -9 {node.name} (leader of the busiest partition {partition}), left down"
    h.say(f"{node.name}: killed -9 (leader of {partition}); down for {LEADER_DOWN_S:.0f}s")
    await asyncio.sleep(LEADER_DOWN_S)
    await _start(h, node)
    return (
        f"kill -9 {node.name} (leader of the busiest partition {partition}): "
        f"back after {time.monotonic() - t0:.1f}s"
    )


async def rolling_restart(h: Harness) -> str:
    t0 = time.monotonic()
    for node, pid in nodes(h):
        h.say(f"{node.name}: stopping (controlled shutdown)")
        await asyncio.to_thread(node.stop, pid)
        await _start(h, node)
        await _until_replicated(h, node)
    return f"rolling restart of 3 nodes in {time.monotonic() - t0:.1f}s"


async def two_down(h: Harness) -> str:
    t0 = time.monotonic()
    victims = h.rng.sample(nodes(h), 2)
    for node, pid in victims:
        await asyncio.to_thread(_kill_9, pid, node.marker)
    names = [n.name for n, _ in victims]
    h.say(f"{' and '.join(names)}: killed -9; one returns after {TWO_DOWN_S:.0f}s")
    await asyncio.sleep(TWO_DOWN_S)
    await _start(h, victims[0][0])
    await asyncio.sleep(ONE_DOWN_S)
    await _start(h, victims[1][0])
    return (
        f"kill -9 {names[0]} and {names[1]}: {names[0]} back after {TWO_DOWN_S:.0f}s, "
        f"{names[1]} {ONE_DOWN_S:.0f}s later; all back after {time.monotonic() - t0:.1f}s"
    )


async def _start(h: Harness, node: Kafka) -> None:
    """Start one node through the stack manager (its run state stays true)."""
    await Stack(h.settings, [node]).up(lambda m: h.say(f"  {m}"))


async def _until_replicated(h: Harness, node: Kafka) -> None:
    """Wait until no partition lacks an in-sync replica (the rolling restart's rule)."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        view = await describe_cluster(node.cluster_client_kwargs())
        if not view.error and not view.under_replicated and not view.offline:
            return
        await asyncio.sleep(0.5)
    raise FaultError(
        f"partitions still under-replicated {SETTLE_S:.0f}s after {node.name} returned"
    )


def longest_stall(
    samples: Sequence[Sample], kinds: Sequence[str], since: float, until: float | None = None
) -> float:
    """The longest time between two commits of ``kinds`` from ``since`` on.

    Until ``until`` (the end of publishing) every gap counts: the stream was still
    coming, so no commit means the system stood still, whether the workers or the
    producers were held up. After it, a sample with no lag anywhere restarts the clock
    (done is not stalled). A gap ends at the first sample that shows more committed
    offsets; samples missing while Kafka did not answer are part of the gap.
    """
    longest = 0.0
    last_at: float | None = None
    previous = 0
    for s in samples:
        if s.at < since:
            continue
        total = sum(s.committed[k] for k in kinds)
        if last_at is None:
            last_at, previous = s.at, total
            continue
        if total > previous:
            longest = max(longest, s.at - last_at)
            last_at = s.at
        elif (until is None or s.at > until) and not any(s.lag[k] for k in kinds):
            last_at = s.at
        previous = total
    return round(longest, 1)
