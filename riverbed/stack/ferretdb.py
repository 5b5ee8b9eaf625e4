"""FerretDB 1.x (MongoDB wire protocol, SQLite backend) built once from its Go module."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from pymongo import AsyncMongoClient

from riverbed.stack.base import Say, Service, require_tool, run_step, writable_source
from riverbed.stack.process import spawn, terminate

MODULE = "github.com/FerretDB/FerretDB"
GO_FIX = "install Go 1.22+ (apt-get install -y golang-go, or from go.dev); it is needed once to build FerretDB"


class FerretDB(Service):
    name = "ferretdb"
    marker = "ferretdb"

    @property
    def _uri(self) -> str:
        return self.settings.mongo_uri.get_secret_value()

    @property
    def host(self) -> str:
        return urlsplit(self._uri).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self._uri).port or 27017

    @property
    def binary(self) -> Path:
        return self.paths.cache / f"ferretdb-{self.settings.ferretdb_version}" / "bin" / "ferretdb"

    async def healthy(self) -> bool:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            self._uri, serverSelectionTimeoutMS=1500, connectTimeoutMS=1500
        )
        try:
            reply = await client.admin.command("ping")
            return bool(reply.get("ok"))
        except Exception:
            return False
        finally:
            await client.close()

    def provision(self, say: Say) -> None:
        if self.binary.exists():
            return
        go = require_tool("go", fix=GO_FIX, extra_paths=("/usr/local/go/bin/go",))
        version = self.settings.ferretdb_version
        say(f"ferretdb: building FerretDB {version} from its Go module (once, about a minute)")
        fix = "check that the Go module proxy is reachable (GOPROXY), then run again"
        info = json.loads(
            run_step(
                [go, "mod", "download", "-json", f"{MODULE}@{version}"],
                what="downloading the FerretDB module",
                fix=fix,
                log_file=self.log_file,
                cwd=tempfile.gettempdir(),
            )
        )
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        with writable_source(info["Dir"], prefix="ferretdb-src-") as src:
            # The module lacks this generated file; without it the binary panics at start.
            (src / "build" / "version" / "version.txt").write_text(version)
            staging = self.binary.with_suffix(".tmp")
            run_step(
                [go, "build", "-buildvcs=false", "-o", str(staging), "./cmd/ferretdb"],
                what="building FerretDB",
                fix=fix,
                log_file=self.log_file,
                cwd=src,
                env={**os.environ, "CGO_ENABLED": "0"},
            )
            staging.rename(self.binary)

    def start(self, say: Say) -> int:
        data = self.paths.data / self.name
        data.mkdir(parents=True, exist_ok=True)
        say(f"ferretdb: starting on {self.address} (SQLite backend in {data})")
        return spawn(
            [
                str(self.binary),
                "--handler=sqlite",
                f"--sqlite-url=file:{data}/",
                f"--listen-addr={self.address}",
                "--state-dir=-",
                "--debug-addr=-",
                "--telemetry=disable",
                "--log-level=warn",
            ],
            log_file=self.log_file,
        )

    def stop(self, pid: int | None) -> None:
        if pid:
            terminate(pid, self.marker, timeout=10.0)
