"""The local cluster's layout and the chaos stall measure (pure logic)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from core.errors import StackError
from core.settings import Settings
from riverbed.chaos.cluster import longest_stall
from riverbed.chaos.progress import Sample
from riverbed.stack import kafka_cluster
from riverbed.stack.kafka_cluster import bootstrap, cluster_id, layout, record_nodes, recorded_nodes

pytestmark = pytest.mark.unit


def settings(tmp_path: Path) -> Settings:
    return Settings(
        kafka_bootstrap="127.0.0.1:14092", kafka_controller_port=14093, data_dir=tmp_path
    )


def test_three_nodes_on_stepped_ports_all_voters(tmp_path: Path) -> None:
    nodes = layout(settings(tmp_path), 3)
    assert [(n.name, n.port, n.controller_port) for n in nodes] == [
        ("kafka-1", 14092, 14093),
        ("kafka-2", 14192, 14193),
        ("kafka-3", 14292, 14293),
    ]
    assert {n.voters for n in nodes} == {"1@127.0.0.1:14093,2@127.0.0.1:14193,3@127.0.0.1:14293"}
    assert {(n.replication, n.min_insync) for n in nodes} == {(3, 2)}
    assert bootstrap(nodes) == "127.0.0.1:14092,127.0.0.1:14192,127.0.0.1:14292"


def test_one_node_is_the_single_broker_of_before(tmp_path: Path) -> None:
    (node,) = layout(settings(tmp_path), 1)
    assert (node.name, node.voters, node.replication, node.min_insync) == (
        "kafka",
        "1@127.0.0.1:14093",
        1,
        1,
    )


def test_too_many_nodes_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="1 to 5"):
        layout(settings(tmp_path), 9)


def test_the_cluster_id_is_shared_and_the_size_remembered(tmp_path: Path) -> None:
    assert recorded_nodes(tmp_path) is None
    record_nodes(tmp_path, 3)
    first = cluster_id(tmp_path, 3)
    assert cluster_id(tmp_path, 3) == first
    assert recorded_nodes(tmp_path) == 3
    assert cluster_id(tmp_path, 1) != first  # a single broker gets a fresh id
    record_nodes(tmp_path, 1)
    assert recorded_nodes(tmp_path) is None


def sample(at: float, committed: int, lag: int) -> Sample:
    return Sample(at, {"orders": committed, "viewing": 0}, {"orders": lag, "viewing": 0})


def test_the_stall_is_the_longest_gap_between_commits_while_lagging() -> None:
    samples = [
        sample(0.0, 0, 10),
        sample(1.0, 5, 10),
        sample(2.0, 5, 10),  # no commit ...
        sample(7.5, 5, 10),  # ... still none (a fault)
        sample(8.0, 9, 4),  # the first commit after 7 s
        sample(9.0, 12, 0),
        sample(30.0, 12, 0),  # idle: no lag, not a stall
        sample(31.0, 13, 0),
    ]
    assert longest_stall(samples, ("orders", "viewing"), since=0.0) == 7.0
    assert longest_stall(samples, ("orders", "viewing"), since=8.0) == 1.0
    # While the stream was still being published, no commit is a stall, lag or not
    # (two brokers down: the producers are held, so no lag builds up).
    assert longest_stall(samples, ("orders", "viewing"), since=8.0, until=40.0) == 22.0


def test_status_lines_name_the_quorum_and_the_partitions_short_of_a_replica() -> None:
    from riverbed.commands.stack import cluster_lines
    from riverbed.stack.kafka_quorum import ClusterView

    view = ClusterView(
        brokers=[1, 3],
        leader=3,
        epoch=4,
        voters=[1, 2, 3],
        partitions=24,
        under_replicated=["riverbed.orders-0", "riverbed.orders-2"],
    )
    lines = cluster_lines(view, [1, 2, 3]).splitlines()
    assert lines == [
        "cluster: brokers [1, 3] registered; not registered: [2]",
        "quorum: leader 3 (epoch 4), voters [1, 2, 3]",
        "partitions: 24, under-replicated 2 (riverbed.orders-0, riverbed.orders-2)",
    ]
    down = cluster_lines(ClusterView(error="KafkaConnectionError: refused"), [1, 2, 3])
    assert down == "cluster: not answering (KafkaConnectionError: refused)"


def test_a_cluster_scenario_without_cluster_is_a_usage_error() -> None:
    from click.testing import CliRunner

    from riverbed.commands.chaos import command

    result = CliRunner().invoke(command, ["--only", "leader-kill"])
    assert result.exit_code == 2
    assert "add --cluster" in result.output


def test_a_new_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # uuid4 bytes whose base64 starts with '-' (0xf8 -> '-'), then ordinary ones: the
    # storage tool would read the first as an option.
    dashed = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))
    ids = iter([dashed, uuid.UUID(int=7)])
    monkeypatch.setattr(kafka_cluster.uuid, "uuid4", lambda: next(ids))
    cid = kafka_cluster.random_cluster_id()
    assert not cid.startswith("-")
    assert len(cid) == 22
    monkeypatch.undo()
    for _ in range(2000):  # and the real generator: ~31 dashed draws expected
        assert not kafka_cluster.random_cluster_id().startswith("-")
