"""Podman as this machine runs it: root, the ``runc`` runtime (``crun`` fails here on
cgroups), explicit ulimits no higher than this process's own, images built offline.

Everything built here is cached in podman's own storage (``/var/lib/containers``), outside
the repository: stand-in base images are tagged with a hash of their recipe, and the
Riverbed image reuses buildah's layer cache, so a second run rebuilds only what changed.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The official images the Dockerfile names cannot be pulled here (no registry is
# reachable): these stand-ins are Debian bookworm, as python:3.11-slim-bookworm and
# node:*-bookworm-slim are, with Debian's own Python 3.11 and Node.js. debootstrap makes
# the bare system (its --include does not resolve python3.11-venv's dependencies); apt
# inside a build adds the rest.
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
STANDIN_PACKAGES = {
    # python3.11-venv: the Dockerfile installs uv into a venv (Debian's system Python
    # refuses `pip install`, PEP 668).
    "python": ("python3.11", "python3.11-venv"),
    "node": ("nodejs", "npm"),
}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _limit(kind: int, ceiling: int) -> int:
    soft, _hard = resource.getrlimit(kind)
    return ceiling if soft == resource.RLIM_INFINITY else min(soft, ceiling)


# Containers get limits no higher than ours: with podman's defaults runc fails here
# ("error setting rlimit type 7 [RLIMIT_NOFILE]: operation not permitted"). 4096
# processes and 20000 open files are plenty for one Python service.
NOFILE = _limit(resource.RLIMIT_NOFILE, 20_000)
NPROC = _limit(resource.RLIMIT_NPROC, 4096)
ULIMITS = ("--ulimit", f"nofile={NOFILE}:{NOFILE}", "--ulimit", f"nproc={NPROC}:{NPROC}")


def podman(
    *args: str,
    check: bool = True,
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``podman --runtime runc ARGS``; raises with podman's own output when it fails.
    ``env`` is added to podman's environment (``--env NAME`` reads values from there)."""
    cmd = ["podman", "--runtime", "runc", *args]
    full_env = {**os.environ, **env} if env else None
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, env=full_env
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:6])} ... exited {result.returncode}:\n"
            f"{(result.stdout or '')[-3000:]}\n{(result.stderr or '')[-3000:]}"
        )
    return result


def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


def _tag(kind: str, recipe: str) -> str:
    """``localhost/riverbed-standin/KIND:<recipe hash>``: a new recipe, a new image."""
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    return f"localhost/riverbed-standin/{kind}:{DEBIAN_SUITE}-{digest}"


def _debian() -> str:
    """The bare Debian image every stand-in starts from (about 40 s to make, once)."""
    tag = _tag("debian", f"{DEBIAN_SUITE} {DEBIAN_MIRROR} minbase, no apt lists")
    if image_exists(tag):
        return tag
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is missing: apt-get install debootstrap")
    with tempfile.TemporaryDirectory(prefix="riverbed-standin-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        # Package lists and downloaded .debs: not part of a base image (the stand-ins
        # fetch fresh lists); about 50 MB.
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["podman", "import", "--change", f"ENV PATH={DEFAULT_PATH}", "-", tag],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
            timeout=600,
        )
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrap rootfs failed")
    return tag


def _machine_ca_bundle() -> bytes:
    """The CA bundle this machine trusts. Its outbound HTTPS goes through a proxy that
    signs with a CA of its own (in /usr/local/share/ca-certificates), which Debian's
    bundle lacks: npm, pip and uv inside a build fail their TLS handshakes without it."""
    path = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
    return path.read_bytes()


def build_standin(kind: str) -> tuple[str, float]:
    """The stand-in base image for ``kind`` (built once, then reused) and the seconds
    spent building it now (0 when cached)."""
    started = time.monotonic()
    base = _debian()
    bundle = _machine_ca_bundle()
    ca = "/etc/ssl/certs/machine-ca-bundle.crt"
    containerfile = (
        f"FROM {base}\n"
        "RUN apt-get update -q \\\n"
        f" && apt-get install -y -q --no-install-recommends {' '.join(STANDIN_PACKAGES[kind])} \\\n"
        " && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb\n"
        f"COPY machine-ca-bundle.crt {ca}\n"
        # uv and Python's ssl read SSL_CERT_FILE, pip its own PIP_CERT, npm NODE_EXTRA_CA_CERTS.
        f"ENV SSL_CERT_FILE={ca} PIP_CERT={ca} NODE_EXTRA_CA_CERTS={ca}\n"
    )
    tag = _tag(kind, containerfile + hashlib.sha256(bundle).hexdigest())
    if image_exists(tag):
        return tag, 0.0
    with tempfile.TemporaryDirectory(prefix="riverbed-standin-") as tmp:
        (Path(tmp) / "Containerfile").write_text(containerfile, encoding="utf-8")
        (Path(tmp) / "machine-ca-bundle.crt").write_bytes(bundle)
        podman("build", "--network", "host", *ULIMITS, "-t", tag, tmp, timeout=1200)
    return tag, time.monotonic() - started


@dataclass(frozen=True)
class Built:
    image: str
    seconds: float
    size_bytes: int


def build_riverbed(tag: str, build_args: dict[str, str]) -> Built:
    """The repository's own Dockerfile, built with podman (buildah's layer cache reused)."""
    started = time.monotonic()
    args = [f"--build-arg={key}={value}" for key, value in sorted(build_args.items())]
    podman(
        "build",
        "--network",
        "host",
        *ULIMITS,
        "--layers",
        *args,
        "-f",
        str(ROOT / "Dockerfile"),
        "-t",
        tag,
        str(ROOT),
        timeout=1800,
    )
    size = int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())
    return Built(tag, time.monotonic() - started, size)


def run_detached(name: str, args: Sequence[str], env: Mapping[str, str]) -> None:
    podman("run", "--detach", "--name", name, *ULIMITS, *args, env=env)


def remove(names: Sequence[str]) -> None:
    if names:
        podman("rm", "--force", "--time", "5", *names, check=False)
