"""A three-node KRaft cluster of its own (free ports, tmp data dir): the leader of the
busiest partition is killed with ``kill -9`` mid-stream, and nothing is lost or
duplicated, the stall stays within 10 s, and no worker restarts.

The full scenarios (rolling restart, two of three down, the node brought back) run in
``riverbed chaos --cluster``; this test keeps to the one that matters most and fits the
suite's budget (about a minute: the cluster's start is most of it).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from core.kafka import new_admin
from core.settings import Settings
from riverbed.chaos import cluster as cluster_faults
from riverbed.chaos.runner import cluster_settings, run_scenario
from riverbed.chaos.scenarios import CLUSTER_SCENARIOS
from riverbed.stack.base import StackPaths
from riverbed.stack.kafka_cluster import PORT_STEP
from riverbed.stack.kafka_quorum import describe_cluster
from riverbed.stack.manager import Stack, kafka_nodes
from tests.integration.ports import below_ephemeral, pick_free

pytestmark = pytest.mark.integration


def free_base_port() -> int:
    """A port p with p, p+1 and the same two PORT_STEP and 2*PORT_STEP higher free, all
    below the kernel's ephemeral range (outgoing connections would take them)."""

    def candidates() -> list[int]:
        base = random.randrange(20_000, below_ephemeral() - 3 * PORT_STEP)
        return [base + n * PORT_STEP + c for n in range(3) for c in (0, 1)]

    return pick_free(candidates)[0]


@pytest.fixture(scope="module")
async def cluster(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    base = free_base_port()
    own = settings.model_copy(
        update={
            "kafka_bootstrap": f"127.0.0.1:{base}",
            "kafka_controller_port": base + 1,
            "data_dir": tmp_path_factory.mktemp("kafka-cluster"),
        }
    )
    nodes = kafka_nodes(own, StackPaths.from_settings(own), 3)
    stack = Stack(own, services=list(nodes), brokers=3)
    t0 = time.monotonic()
    try:
        await stack.up(lambda m: print(f"[cluster] {m}"))
        print(f"[cluster] 3 nodes up in {time.monotonic() - t0:.1f}s")
        yield cluster_settings(own)
    finally:
        await stack.down(lambda m: print(f"[cluster] {m}"))


@pytest.mark.timeout(240)
async def test_leader_kill_mid_stream_loses_nothing_and_stalls_briefly(cluster: Settings) -> None:
    view = await describe_cluster({"bootstrap_servers": cluster.kafka_bootstrap})
    assert (view.brokers, view.voters) == ([1, 2, 3], [1, 2, 3]), view
    assert view.leader in (1, 2, 3) and not view.under_replicated, view

    # The suite's short run: 1,200 events, and the killed node stays down (the chaos
    # command brings it back; here the cluster is thrown away after).
    leader_kill = next(s for s in CLUSTER_SCENARIOS if s.key == "leader-kill")
    scenario = replace(
        leader_kill,
        quick_events=1_200,
        inject=functools.partial(cluster_faults.kill_leader, restart=False),
    )
    result = await run_scenario(cluster, scenario, quick=True, say=print, seed=11)

    assert (result.lost, result.duplicated) == (0, 0), result.details.get("checks")
    assert result.details["unexpected_worker_exits"] == 0, result.notes
    assert 0 < result.details["longest_stall_s"] <= 10.0, result.details
    assert result.passed, result.notes
    # The stack's view: one node gone, its partitions now short of a replica.
    after = await describe_cluster({"bootstrap_servers": cluster.kafka_bootstrap})
    assert len(after.brokers) == 2 and after.leader in after.brokers, after
    assert after.under_replicated, after


async def test_topics_are_created_with_three_replicas_and_two_in_sync(cluster: Settings) -> None:
    from producers.topic_admin import replication_for

    admin = new_admin(cluster)
    await admin.start()
    try:
        assert await replication_for(admin) == (3, {"min.insync.replicas": "2"})
    finally:
        await admin.close()
