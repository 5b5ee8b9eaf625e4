"""Helm, built once from its Go module into the cache, and the chart rendered with it.

``go install helm.sh/helm/v3/cmd/helm@HELM_VERSION`` takes about 3.5 minutes on a
2-core machine, so the binary is kept in ``<cache dir>/helm-<version>/helm`` and
reused by every checkout; a ``helm`` on PATH of the same major version is used too.

On a cold machine ``make test`` does not wait for that build: :func:`start_build` runs
it in a detached, ``nice`` process (``riverbed deploy helm --background``) while the
stack starts and the other tests run; the chart tests, ordered last, wait for it
(:func:`wait_for_helm`). A lock in the cache keeps two checkouts from building at once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _build_lock(settings: Settings, *, wait: bool = True) -> Iterator[bool]:
    """Hold the cache's build lock; yields False (without waiting) when ``wait`` is off
    and another process holds it."""
    lock = cached_helm(settings).parent / ".build.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def building(settings: Settings) -> bool:
    """True while some process builds Helm into the cache (it holds the lock)."""
    with _build_lock(settings, wait=False) as got:
        return not got


def build_log(settings: Settings) -> Path:
    return cached_helm(settings).parent / "build.log"


def start_build(settings: Settings) -> bool:
    """Start a detached build when Helm is not found; True when one was started."""
    if find_helm(settings) is not None or building(settings):
        return False
    log = build_log(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        subprocess.Popen(
            ["nice", sys.executable, "-m", "riverbed", "deploy", "helm"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `make`'s step; the tests wait for it
        )
    return True


def wait_for_helm(settings: Settings, timeout_s: float) -> Path | None:
    """The cached Helm, waiting while a build runs (at most ``timeout_s``); None when
    there is none and no build is running."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = find_helm(settings)
        if found is not None or not building(settings) or time.monotonic() > deadline:
            return found if found is not None else find_helm(settings)
        time.sleep(2)


def build_helm(settings: Settings) -> Path:
    """Build Helm from the Go module proxy into the cache (minutes; once), under the
    cache's lock: a second caller waits and then finds it built."""
    with _build_lock(settings):
        found = find_helm(settings)
        return found if found is not None else _build(settings)


def _build(settings: Settings) -> Path:
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
