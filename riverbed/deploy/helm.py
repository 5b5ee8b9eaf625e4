"""Helm, built once from its Go module into the cache, and the chart rendered with it.

``go install helm.sh/helm/v3/cmd/helm@HELM_VERSION`` takes about 3.5 minutes on a
2-core machine, so the binary is kept in ``<cache dir>/helm-<version>/helm`` and
reused by every checkout; a ``helm`` on PATH of the same major version is used too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from core.errors import StackError
from core.settings import Settings
from riverbed.deploy.plan import CHART

HELM_VERSION = "v3.22.0"
HELM_MODULE = "helm.sh/helm/v3/cmd/helm"
# The Kubernetes version charts are rendered for. Needed: a Helm built with `go install`
# lacks the release build's version flags and assumes Kubernetes 1.20.
KUBE_VERSION = "1.31.0"


def cached_helm(settings: Settings) -> Path:
    return settings.cache_dir.expanduser() / f"helm-{HELM_VERSION}" / "helm"


def find_helm(settings: Settings) -> Path | None:
    """The cached Helm, else a Helm 3 on PATH; None when there is neither."""
    cached = cached_helm(settings)
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    on_path = shutil.which("helm")
    if on_path:
        out = subprocess.run(
            [on_path, "version", "--short"], capture_output=True, text=True, check=False
        )
        if out.stdout.startswith("v3."):
            return Path(on_path)
    return None


def build_helm(settings: Settings) -> Path:
    """Build Helm from the Go module proxy into the cache (minutes; once)."""
    go = shutil.which("go")
    if go is None:
        raise StackError(
            "helm is not cached and Go is not installed to build it",
            fix=f"install Go, or put a Helm 3 binary at {cached_helm(settings)}",
        )
    target = cached_helm(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as gobin:
        proc = subprocess.run(
            [go, "install", f"{HELM_MODULE}@{HELM_VERSION}"],
            env={**os.environ, "GOBIN": gobin},
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise StackError(
                f"building helm {HELM_VERSION} failed:\n{proc.stderr[-2000:]}",
                fix="check that the Go module proxy is reachable (GOPROXY), then run again",
            )
        Path(gobin, "helm").replace(target)  # atomic: a parallel reader sees all or nothing
    return target


def helm(settings: Settings, *, build: bool = False) -> Path:
    found = find_helm(settings)
    if found is None and build:
        found = build_helm(settings)
    if found is None:
        raise StackError(
            f"helm {HELM_VERSION} is not cached at {cached_helm(settings)}",
            fix="`riverbed deploy helm` (or `make deploy-check`) builds it once, about 3.5 min",
        )
    return found


def run(binary: Path, *args: str) -> str:
    proc = subprocess.run([str(binary), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(
            f"helm {' '.join(args[:2])} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}",
            fix=f"fix the chart under {CHART}",
        )
    return proc.stdout


def template(binary: Path, *values: str, chart: Path = CHART) -> list[dict[str, Any]]:
    """Every object ``helm template`` renders (hooks included), parsed."""
    import yaml  # a development dependency: the chart is checked, not run, from here

    args = ["template", "riverbed", str(chart), "--namespace", "riverbed"]
    args += ["--kube-version", KUBE_VERSION]
    for v in values:
        args += ["--set", v]
    docs = yaml.safe_load_all(run(binary, *args))
    return [d for d in docs if d]


def lint(binary: Path, chart: Path = CHART) -> str:
    return run(binary, "lint", "--strict", "--kube-version", KUBE_VERSION, str(chart))
