"""The chart's Kafka plan: topics, worker kinds and each principal's ACLs, as JSON.

``deploy/helm/{riverbed,riverbed-infra}/files/kafka-plan.json`` is this module's output
(``riverbed deploy plan --write``; a unit test fails when the file and the code differ).
The chart renders Strimzi ``KafkaTopic``s, ``KafkaUser``s and the KEDA limits from it.

ACLs are :func:`riverbed.stack.acls.acl_plan` itself, the plan of the local secure
broker, with placeholder prefixes that the chart replaces with its values:
``{T}`` the topic prefix and ``{G}`` the consumer-group prefix. Bindings of one
resource are merged into one Strimzi rule with their operations sorted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from processors.kinds import KINDS, WORKER_TOPICS
from riverbed.stack.acls import ADMIN, PRINCIPALS, AclBinding, Pattern, acl_plan
from schemas.topics import TOPIC_PARTITIONS

TOPIC_MARK = "{T}"
GROUP_MARK = "{G}"
CHARTS = Path(__file__).resolve().parents[2] / "deploy" / "helm"
CHART = CHARTS / "riverbed"  # the services
INFRA_CHART = CHARTS / "riverbed-infra"  # Strimzi, CloudNativePG, MongoDB resources
# Helm reads only files inside a chart: each chart has its copy.
PLAN_FILES = (CHART / "files" / "kafka-plan.json", INFRA_CHART / "files" / "kafka-plan.json")
METRICS_PORT = 9100  # a worker pod's /healthz, /readyz and /metrics: base + index of kind


def strimzi_rules(bindings: list[AclBinding]) -> dict[str, list[dict[str, Any]]]:
    """Each principal's ACLs as Strimzi ``spec.authorization.acls`` entries."""
    merged: dict[str, dict[tuple[str, str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    for b in bindings:
        key = (b.resource.name.lower(), b.name, b.pattern.name.lower())
        merged[b.principal][key].add(b.operation.name.capitalize())
    return {
        principal: [
            {
                "resource": {"type": kind, "name": name, "patternType": pattern},
                "operations": sorted(ops),
                "host": "*",
            }
            for (kind, name, pattern), ops in sorted(rules.items())
        ]
        for principal, rules in sorted(merged.items())
    }


def bindings_of(
    rules: dict[str, list[dict[str, Any]]], topic_prefix: str, group_prefix: str
) -> list[AclBinding]:
    """Strimzi rules (as rendered by the chart) back to sorted bindings, to compare."""
    from riverbed.stack.acls import Operation, Resource

    out = []
    for principal, entries in rules.items():
        for entry in entries:
            res = entry["resource"]
            for op in entry["operations"]:
                out.append(
                    AclBinding(
                        principal,
                        Resource[res["type"].upper()],
                        res["name"]
                        .replace(TOPIC_MARK, topic_prefix)
                        .replace(GROUP_MARK, group_prefix),
                        Pattern[res.get("patternType", "literal").upper()],
                        Operation[op.upper()],
                    )
                )
    return sorted(out)


def build() -> dict[str, Any]:
    """The plan, from the code's own tables."""
    return {
        "generated": "by `riverbed deploy plan --write` from schemas/topics.py and "
        "riverbed/stack/acls.py: do not edit",
        "topics": [{"name": name, "partitions": n} for name, n in TOPIC_PARTITIONS.items()],
        "workers": [
            {
                "kind": kind,
                "topic": WORKER_TOPICS[kind],
                "partitions": TOPIC_PARTITIONS[WORKER_TOPICS[kind]],
                "metricsPort": METRICS_PORT + KINDS.index(kind),
            }
            for kind in KINDS
        ],
        "metricsBasePort": METRICS_PORT,
        "superUsers": [ADMIN],
        "principals": list(PRINCIPALS),
        "acls": strimzi_rules(acl_plan(topic_prefix=TOPIC_MARK, group_prefix=GROUP_MARK)),
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


def stale() -> list[Path]:
    """The charts' plan files that are not what the code generates now."""
    text = render()
    return [p for p in PLAN_FILES if not p.exists() or p.read_text() != text]


def write() -> list[Path]:
    for path in PLAN_FILES:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render())
    return list(PLAN_FILES)
