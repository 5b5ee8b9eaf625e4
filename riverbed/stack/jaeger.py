"""Jaeger v2 (OTLP in, query API out) built once from its Go module, in the background.

The build takes about 11 minutes on a 2-core machine (STACK.md), most of a cold
``make test``. So ``stack up`` does not wait for it: when the binary is not cached it
starts one detached process that builds it (``nice``, under a lock in the cache so two
checkouts never build at once) and then *becomes* Jaeger (``exec``), and reports the
service as ``building``. Every other service, and every test that does not need Jaeger,
goes on meanwhile; the tests that do wait for it (``tests/integration/tracing``).
Once cached, Jaeger starts in well under a second like the other services.

``go install`` fails on the module's replace directives (as FerretDB's does), so the
module is downloaded, copied to a writable place and built there. Its web UI is not in
the module (the query port serves a placeholder page): Riverbed's dashboard shows
traces itself ("Follow an order"), from the query API.

Run as ``python -m riverbed.stack.jaeger BINARY CONFIG VERSION``: the builder process.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from riverbed.stack.base import REPO_STACK_DIR, Say, Service, require_tool, writable_source
from riverbed.stack.process import spawn, terminate

MODULE = "github.com/jaegertracing/jaeger"
GO_FIX = "install Go 1.22+ (apt-get install -y golang-go, or from go.dev); it is needed once to build Jaeger"


class Jaeger(Service):
    name = "jaeger"
    marker = "jaeger"

    @property
    def host(self) -> str:
        return urlsplit(self.settings.jaeger_url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.settings.jaeger_url).port or 16686

    @property
    def otlp_port(self) -> int:
        return self.settings.jaeger_otlp_port

    def ports(self) -> list[int]:
        return [self.port, self.otlp_port]

    @property
    def binary(self) -> Path:
        return self.paths.cache / f"jaeger-{self.settings.jaeger_version}" / "bin" / "jaeger"

    @property
    def config_file(self) -> Path:
        return self.paths.data / self.name / "config.yaml"

    @property
    def building(self) -> bool:
        """True while the binary is not cached (a started process is building it)."""
        return not self.binary.exists()

    @property
    def starts_later(self) -> bool:
        return self.building

    async def healthy(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=1.5) as client:
                answer = await client.get(f"{self.settings.jaeger_url.rstrip('/')}/api/services")
            return answer.status_code == 200 and "data" in answer.json()
        except (httpx.HTTPError, ValueError):
            return False

    def provision(self, say: Say) -> None:
        """Write the config; the binary is built by the started process when missing."""
        if self.building:
            require_tool("go", fix=GO_FIX, extra_paths=("/usr/local/go/bin/go",))
        template = (REPO_STACK_DIR / "jaeger" / "config.yaml").read_text()
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            template.replace("{query}", self.address)
            .replace("{otlp}", f"{self.host}:{self.otlp_port}")
            .replace("{host}", self.host)
        )

    def start(self, say: Say) -> int:
        if self.building:
            say(
                f"jaeger: building Jaeger {self.settings.jaeger_version} from its Go module in "
                f"the background (once, about 11 minutes; log: {self.log_file}); it starts on "
                f"{self.address} when built, `riverbed stack status` shows when"
            )
        else:
            say(f"jaeger: starting on {self.address} (OTLP/HTTP on port {self.otlp_port})")
        return spawn(
            [
                sys.executable,
                "-m",
                "riverbed.stack.jaeger",
                str(self.binary),
                str(self.config_file),
                self.settings.jaeger_version,
            ],
            log_file=self.log_file,
        )

    def stop(self, pid: int | None) -> None:
        if pid:
            terminate(pid, self.marker, timeout=10.0)


def build(binary: Path, version: str) -> None:
    """Build ``binary`` from the module (blocking; a no-op when another build made it)."""
    binary.parent.mkdir(parents=True, exist_ok=True)
    with (binary.parent / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second checkout waits for the first build
        if binary.exists():
            return
        go = shutil.which("go") or "/usr/local/go/bin/go"
        info = json.loads(
            subprocess.run(
                [go, "mod", "download", "-json", f"{MODULE}@{version}"],
                capture_output=True,
                text=True,
                check=True,
                cwd=tempfile.gettempdir(),
            ).stdout
        )
        with writable_source(info["Dir"], prefix="jaeger-src-") as src:
            staging = binary.with_suffix(".tmp")
            subprocess.run(
                [
                    "nice",
                    "-n",
                    "10",
                    go,
                    "build",
                    "-buildvcs=false",
                    "-o",
                    str(staging),
                    "./cmd/jaeger",
                ],
                check=True,
                cwd=src,
                env={**os.environ, "CGO_ENABLED": "0"},
            )
            staging.rename(binary)


def main(argv: list[str]) -> None:
    """Build when needed, then become Jaeger (same pid, so ``stack down`` finds it)."""
    binary, config, version = Path(argv[0]), Path(argv[1]), argv[2]
    if not binary.exists():
        print(f"building {MODULE}@{version} into {binary}", flush=True)
        build(binary, version)
        print("built; starting Jaeger", flush=True)
    os.execv(binary, [str(binary), "--config", str(config)])  # noqa: S606 - fixed argv


if __name__ == "__main__":
    main(sys.argv[1:])
