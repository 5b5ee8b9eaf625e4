"""The Compose Specification's JSON schema, from the compose-spec project's released Go
module (the schema docker compose itself validates with), downloaded once into Go's
module cache (``go env GOMODCACHE``, outside the repository) and read from there.

``python -m tests.compose_spec`` downloads it and prints its path (``make setup`` does,
so the offline ``make check`` finds it cached).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

# compose-go v2.16 is the loader of docker compose v2.40+ (2026); bump with docker compose.
MODULE = "github.com/compose-spec/compose-go/v2"
VERSION = "v2.16.2"
SCHEMA_IN_MODULE = Path("schema/compose-spec.json")


@cache
def schema_path() -> Path:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("go is missing: the compose schema comes from a Go module")
    # Outside any module, with the module cache as the only source when it already holds
    # this version (go then needs no network).
    done = subprocess.run(
        [go, "mod", "download", "-json", f"{MODULE}@{VERSION}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path.home(),
        env={**os.environ, "GOFLAGS": "-mod=mod", "GO111MODULE": "on"},
    )
    info = json.loads(done.stdout) if done.stdout.strip() else {}
    if done.returncode != 0 or "Dir" not in info:
        raise RuntimeError(
            f"go mod download {MODULE}@{VERSION} failed: {info.get('Error') or done.stderr}"
        )
    path = Path(info["Dir"]) / SCHEMA_IN_MODULE
    if not path.is_file():
        raise RuntimeError(f"{MODULE}@{VERSION} has no {SCHEMA_IN_MODULE}")
    return path


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return loaded


if __name__ == "__main__":
    print(schema_path())
