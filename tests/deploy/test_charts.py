"""The Helm charts, rendered offline with the cached Helm (``make deploy-check``).

``helm lint --strict`` and ``helm template`` on both charts; the rendered objects are
parsed and checked: workers never scale above their partitions, the migration is a
pre-install/pre-upgrade hook, every container has probes and resource requests, the
KafkaUsers' ACLs are the local secure broker's plan, every core resource validates
against the Kubernetes schemas (kubernetes-validate) and every custom resource of an
operator whose CRD ships in a Go module against that CRD's schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import kubernetes_validate
import pytest

from core.errors import StackError
from core.settings import Settings
from riverbed.deploy import crds, plan
from riverbed.deploy.helm import KUBE_VERSION, build_log, lint, template, wait_for_helm
from riverbed.stack.acls import PRINCIPALS, acl_plan
from schemas.topics import TOPIC_PARTITIONS

pytestmark = pytest.mark.deploy
Objects = list[dict[str, Any]]


# A cold build under the suite's load (3.5 min on an idle machine); cached: no wait.
BUILD_WAIT_S = 20 * 60


@pytest.fixture(scope="module")
def helm(settings: Settings) -> Path:
    # `make test` starts the build in the background; these tests run last (conftest).
    found = wait_for_helm(settings, BUILD_WAIT_S)
    if found is None:
        pytest.fail(
            "helm is not cached and no build is running: `uv run riverbed deploy helm` "
            f"(or `make deploy-check`) builds it once from its Go module (about 3.5 min); "
            f"a background build logs to {build_log(settings)}"
        )
    return found


@pytest.fixture(scope="module")
def services(helm: Path) -> Objects:
    # More replicas asked than partitions exist: the chart must cap them.
    return template(helm, "workers.maxReplicas=50", "workers.overrides.viewing.maxReplicas=2")


@pytest.fixture(scope="module")
def infra(helm: Path) -> Objects:
    return template(helm, "kafka.topicPrefix=prod.", "kafka.groupPrefix=rb", chart=plan.INFRA_CHART)


def of(objects: Objects, kind: str) -> Objects:
    return [o for o in objects if o["kind"] == kind]


@pytest.mark.parametrize("chart", [plan.CHART, plan.INFRA_CHART], ids=["riverbed", "infra"])
def test_lint_is_clean(helm: Path, chart: Path) -> None:
    out = lint(helm, chart)
    assert "0 chart(s) failed" in out, out


def test_a_chart_error_is_reported_not_swallowed(helm: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (broken / "templates").mkdir()
    (broken / "templates" / "x.yaml").write_text('{{ required "x is required" .Values.x }}\n')
    with pytest.raises(StackError, match="x is required"):
        template(helm, chart=broken)


def test_one_scaled_deployment_per_worker_kind_never_above_its_partitions(
    services: Objects,
) -> None:
    workers = plan.build()["workers"]
    scaled = {o["spec"]["scaleTargetRef"]["name"]: o for o in of(services, "ScaledObject")}
    deployments = {o["metadata"]["name"]: o for o in of(services, "Deployment")}
    assert len(scaled) == len(workers)
    for w in workers:
        name = f"riverbed-worker-{w['kind']}"
        assert name in deployments and name in scaled
        so = scaled[name]["spec"]
        assert 1 <= so["minReplicaCount"] <= so["maxReplicaCount"] <= w["partitions"]
        assert deployments[name]["spec"]["replicas"] <= w["partitions"]
        (trigger,) = so["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == f"riverbed-{w['kind']}"
        assert trigger["metadata"]["topic"] == w["topic"]
        assert trigger["metadata"]["allowIdleConsumers"] == "false"
    assert scaled["riverbed-worker-orders"]["spec"]["maxReplicaCount"] == 4  # 50 capped
    assert scaled["riverbed-worker-viewing"]["spec"]["maxReplicaCount"] == 2  # override


def test_gateway_has_service_autoscaler_and_disruption_budget(services: Objects) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in services}
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert (kind, "riverbed-gateway") in names
    assert ("Deployment", "riverbed-dashboard") in names
    assert ("Service", "riverbed-dashboard") in names


def test_migration_is_a_pre_install_and_pre_upgrade_hook(services: Objects) -> None:
    (job,) = of(services, "Job")
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert set(hooks) == {"pre-install", "pre-upgrade"}
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]


def test_every_long_running_container_has_probes_requests_and_no_root(services: Objects) -> None:
    for deployment in of(services, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            where = f"{deployment['metadata']['name']}/{c['name']}"
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", where
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", where
            assert {"cpu", "memory"} <= c["resources"]["requests"].keys(), where
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
            env = {e["name"]: e for e in c["env"]}
            # Secrets come from Secret objects, never a literal value.
            for secret in (
                "RIVERBED_POSTGRES_DSN",
                "RIVERBED_MONGO_URI",
                "RIVERBED_KAFKA_PASSWORD",
            ):
                assert "secretKeyRef" in env[secret]["valueFrom"], (where, secret)
                assert "value" not in env[secret], (where, secret)


def test_worker_probes_reach_the_workers_metrics_port(services: Objects) -> None:
    ports = {w["kind"]: w["metricsPort"] for w in plan.build()["workers"]}
    for deployment in of(services, "Deployment"):
        kind = deployment["metadata"]["labels"].get("riverbed.io/worker-kind")
        if kind is None:
            continue
        (c,) = deployment["spec"]["template"]["spec"]["containers"]
        assert c["ports"] == [{"name": "metrics", "containerPort": ports[kind]}]
        env = {e["name"]: e.get("value") for e in c["env"]}
        # processors/runtime/metrics.py: base + the kind's index, on every interface.
        assert int(env["RIVERBED_METRICS_PORT"]) + list(ports).index(kind) == ports[kind]
        assert env["RIVERBED_METRICS_HOST"] == "0.0.0.0"


def test_network_policies_deny_by_default_and_open_only_the_service_ports(
    services: Objects,
) -> None:
    policies = {o["metadata"]["name"]: o["spec"] for o in of(services, "NetworkPolicy")}
    deny = policies["riverbed-default-deny"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    egress_ports = {
        p["port"] for rule in policies["riverbed-egress"]["egress"] for p in rule["ports"]
    }
    assert egress_ports == {53, 9092, 9093, 5432, 27017}
    assert policies["riverbed-gateway-ingress"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 8000}
    ]


def test_kafka_users_acls_are_the_local_secure_brokers_plan(infra: Objects) -> None:
    users = {o["metadata"]["name"]: o["spec"] for o in of(infra, "KafkaUser")}
    assert sorted(users) == sorted(PRINCIPALS)
    assert all(u["authentication"]["type"] == "scram-sha-512" for u in users.values())
    rendered = {
        name: spec["authorization"]["acls"]
        for name, spec in users.items()
        if "authorization" in spec
    }
    # Rendered names already carry the prefixes: compare with the plan for those prefixes.
    assert plan.bindings_of(rendered, "", "") == acl_plan(topic_prefix="prod.", group_prefix="rb")
    (kafka,) = of(infra, "Kafka")
    assert kafka["spec"]["kafka"]["authorization"]["superUsers"] == ["admin"]
    assert "authorization" not in users["admin"]


def test_kafka_is_kraft_with_a_node_pool_and_topics_are_replicated(infra: Objects) -> None:
    (kafka,) = of(infra, "Kafka")
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    config = kafka["spec"]["kafka"]["config"]
    assert (config["default.replication.factor"], config["min.insync.replicas"]) == (3, 2)
    (pool,) = of(infra, "KafkaNodePool")
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    topics = {t["spec"]["topicName"]: t["spec"] for t in of(infra, "KafkaTopic")}
    assert {n: s["partitions"] for n, s in topics.items()} == {
        f"prod.{n}": p for n, p in TOPIC_PARTITIONS.items()
    }
    assert {(s["replicas"], s["config"]["min.insync.replicas"]) for s in topics.values()} == {
        (3, "2")
    }


def test_postgres_and_mongo_run_three_instances(infra: Objects) -> None:
    (pg,) = of(infra, "Cluster")
    assert pg["spec"]["instances"] == 3
    (mongo,) = of(infra, "MongoDBCommunity")
    assert mongo["spec"]["members"] == 3


def test_custom_resources_validate_against_their_operators_crds(
    services: Objects, infra: Objects
) -> None:
    checked = []
    for obj in services + infra:
        key = (obj["apiVersion"], obj["kind"])
        if key not in crds.CRDS:
            continue
        validator = jsonschema_rs.validator_for(crds.schema(*key))
        errors = [e.message for e in validator.iter_errors(obj)]
        assert errors == [], (obj["kind"], obj["metadata"]["name"], errors)
        checked.append(obj["kind"])
    assert {"ScaledObject", "TriggerAuthentication", "Cluster", "MongoDBCommunity"} <= set(checked)
    # Strimzi's kinds have no schema source here (riverbed/deploy/crds.py says why).
    assert {
        o["kind"] for o in infra if o["apiVersion"].startswith("kafka.strimzi")
    } == crds.NO_SCHEMA


def test_a_bad_custom_resource_fails_its_crd() -> None:
    validator = jsonschema_rs.validator_for(crds.schema("keda.sh/v1alpha1", "ScaledObject"))
    bad = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x"},
        "spec": {"triggers": [{"type": "kafka", "metadata": {}}]},
    }  # no scaleTargetRef
    assert list(validator.iter_errors(bad))


def test_core_resources_validate_against_the_kubernetes_schemas(
    services: Objects, infra: Objects
) -> None:
    core = [
        o
        for o in services + infra
        if "." not in o["apiVersion"].partition("/")[0]
        or o["apiVersion"].split("/")[0].endswith(".k8s.io")
    ]
    kinds = {o["kind"] for o in core}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "NetworkPolicy",
        "Secret",
    } <= kinds, kinds
    for obj in core:
        # strict: a misspelt or misplaced field fails instead of being dropped.
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_a_misplaced_field_fails_the_kubernetes_schema(services: Objects) -> None:
    deployment = of(services, "Deployment")[0]
    bad = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSION, strict=True)
