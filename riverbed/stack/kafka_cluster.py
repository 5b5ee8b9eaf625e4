"""The local Kafka cluster's layout: its nodes, their ports, and what they share.

``riverbed stack up --brokers 3`` runs three combined broker+controller nodes, all
three voters of a static KRaft quorum (``controller.quorum.voters``), so the cluster
keeps a controller and accepts writes with any one node down. Node ``n`` (1-based)
listens on the configured ports plus ``(n - 1) * PORT_STEP``: with
``RIVERBED_KAFKA_BOOTSTRAP=127.0.0.1:9092`` and ``RIVERBED_KAFKA_CONTROLLER_PORT=9093``
the nodes are 9092/9093, 9192/9193 and 9292/9293. One node (the default) is the
single broker it always was, under ``<data dir>/kafka``; a cluster's nodes live under
``<data dir>/kafka-1`` ... and share one cluster id (``<data dir>/kafka-cluster.json``,
which also records the node count, so ``stack status`` and ``down`` find every node).

A cluster replicates every topic three times with ``min.insync.replicas=2``: an
``acks=all`` write is acknowledged once two nodes hold it, so losing one node loses no
acknowledged write and stops no writer.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.errors import StackError
from core.settings import Settings

PORT_STEP = 100
MAX_NODES = 5  # ports stay inside one thousand of the base; 3 is what Riverbed tests
_ID_LOCK = threading.Lock()  # nodes are provisioned in parallel threads


@dataclass(frozen=True)
class Node:
    """One node of the local Kafka (a cluster of ``nodes``, or the single broker)."""

    node_id: int
    nodes: int
    host: str
    port: int
    controller_port: int
    voters: str  # controller.quorum.voters

    @property
    def name(self) -> str:
        return "kafka" if self.nodes == 1 else f"kafka-{self.node_id}"

    @property
    def replication(self) -> int:
        return min(3, self.nodes)

    @property
    def min_insync(self) -> int:
        """2 of 3 replicas; 1 below three nodes (2 of 2 would stop writes on any loss)."""
        return 2 if self.replication >= 3 else 1


def layout(settings: Settings, nodes: int = 1) -> list[Node]:
    """The nodes of a local Kafka of ``nodes`` nodes, on the configured ports."""
    if not 1 <= nodes <= MAX_NODES:
        raise StackError(
            f"kafka: {nodes} brokers asked for; the local stack runs 1 to {MAX_NODES}",
            fix="use --brokers 1 (the default) or --brokers 3",
        )
    host, port = settings.kafka_host_port
    controller = settings.kafka_controller_port
    step = [
        (n, port + (n - 1) * PORT_STEP, controller + (n - 1) * PORT_STEP)
        for n in range(1, nodes + 1)
    ]
    voters = ",".join(f"{n}@{host}:{c}" for n, _, c in step)
    return [Node(n, nodes, host, p, c, voters) for n, p, c in step]


def bootstrap(nodes: list[Node]) -> str:
    """Every node's address: clients that start while a node is down still find one."""
    return ",".join(f"{n.host}:{n.port}" for n in nodes)


def record_file(data_dir: Path) -> Path:
    return data_dir / "kafka-cluster.json"


def recorded_nodes(data_dir: Path) -> int | None:
    """The node count ``stack up --brokers N`` recorded for this data dir (None: none)."""
    path = record_file(data_dir)
    if not path.exists():
        return None
    return int(json.loads(path.read_text())["brokers"])


def record_nodes(data_dir: Path, nodes: int) -> None:
    """Remember the cluster size; a single node records nothing (the default)."""
    path = record_file(data_dir)
    if nodes == 1:
        path.unlink(missing_ok=True)
        return
    with _ID_LOCK:
        current = json.loads(path.read_text()) if path.exists() else {}
        current["brokers"] = nodes
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(current))


def random_cluster_id() -> str:
    """A new id in the format of `StorageTool random-uuid`, without starting a JVM for it.

    Like Kafka's ``Uuid.randomUuid`` it never starts with ``-``: the storage tool's
    argument parser reads such an id as an option (``--cluster-id/-t: expected one
    argument``), which failed one CI run's secure broker (1 id in 64 starts so).
    """
    while True:
        fresh = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not fresh.startswith("-"):
            return fresh


def cluster_id(data_dir: Path, nodes: int) -> str:
    """The id every node of one cluster is formatted with (made once, then read back)."""
    fresh = random_cluster_id()
    if nodes == 1:
        return fresh
    with _ID_LOCK:
        path = record_file(data_dir)
        current = json.loads(path.read_text()) if path.exists() else {"brokers": nodes}
        if "cluster_id" not in current:
            current["cluster_id"] = fresh
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(current))
        return str(current["cluster_id"])
