"""The operators' CRD schemas, from the operators' own released Go modules.

``go mod download -json MODULE@VERSION`` fetches a release once into Go's module cache
(read-only, shared by every checkout) and prints where it is; each CRD's
``openAPIV3Schema`` is read from there. The charts' custom resources are checked
against these schemas, offline once cached.

Strimzi has no such source here: it is a Java project (not a Go module on the module
proxy), and its ``io.strimzi:api`` jar on Maven Central holds Java classes, not the CRD
YAML. Its resources are checked field by field by the chart tests instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import StackError


@dataclass(frozen=True)
class Crd:
    module: str
    version: str
    path: str  # inside the module


# (apiVersion, kind) -> where its CRD is. Versions: the operators' releases whose CRDs
# serve these API versions.
CRDS: dict[tuple[str, str], Crd] = {
    ("keda.sh/v1alpha1", "ScaledObject"): Crd(
        "github.com/kedacore/keda/v2", "v2.18.0", "config/crd/bases/keda.sh_scaledobjects.yaml"
    ),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): Crd(
        "github.com/kedacore/keda/v2",
        "v2.18.0",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
    ),
    ("postgresql.cnpg.io/v1", "Cluster"): Crd(
        "github.com/cloudnative-pg/cloudnative-pg",
        "v1.27.1",
        "config/crd/bases/postgresql.cnpg.io_clusters.yaml",
    ),
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"): Crd(
        "github.com/mongodb/mongodb-kubernetes-operator",
        "v0.13.0",
        "config/crd/bases/mongodbcommunity.mongodb.com_mongodbcommunity.yaml",
    ),
}
NO_SCHEMA = {"KafkaNodePool", "Kafka", "KafkaTopic", "KafkaUser"}  # Strimzi: see above


@cache
def module_dir(module: str, version: str) -> Path:
    go = shutil.which("go")
    if go is None:
        raise StackError(
            "go is not installed: the operators' CRDs come from their Go modules",
            fix="install Go (https://go.dev/dl/), then run again",
        )
    proc = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        check=False,
    )
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or "Dir" not in info:
        raise StackError(
            f"downloading {module}@{version} failed: {info.get('Error') or proc.stderr}",
            fix="check that the Go module proxy is reachable (GOPROXY), then run again",
        )
    return Path(info["Dir"])


def schema(api_version: str, kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of ``kind`` at ``api_version`` from its operator's module."""
    import yaml  # a development dependency, as in riverbed.deploy.helm

    crd = CRDS[(api_version, kind)]
    doc = yaml.safe_load((module_dir(crd.module, crd.version) / crd.path).read_text())
    wanted = api_version.rpartition("/")[2]
    for version in doc["spec"]["versions"]:
        if version["name"] == wanted:
            found: dict[str, Any] = version["schema"]["openAPIV3Schema"]
            return found
    raise StackError(
        f"{crd.module}@{crd.version} has no {kind} {wanted} schema",
        fix="pick the operator release that serves this API version",
    )
