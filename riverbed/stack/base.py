"""What every local-stack service provides, and the paths they share."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import StackError
from core.settings import Settings

Say = Callable[[str], None]
REPO_STACK_DIR = Path(__file__).resolve().parents[2] / "stack"


@dataclass(frozen=True)
class StackPaths:
    data: Path  # <project>/.riverbed: service data, logs, run state (git-ignored)
    cache: Path  # ~/.cache/riverbed: jars and binaries, shared by every checkout

    @classmethod
    def from_settings(cls, settings: Settings) -> StackPaths:
        return cls(data=settings.data_dir.resolve(), cache=settings.cache_dir.expanduser())

    @property
    def run(self) -> Path:
        return self.data / "run"

    @property
    def logs(self) -> Path:
        return self.data / "logs"


class Service(ABC):
    """One real server of the local stack (Kafka, PostgreSQL or FerretDB)."""

    name: str
    marker: str  # a string in the command line of the process we start

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        self.settings = settings
        self.paths = paths

    @property
    @abstractmethod
    def host(self) -> str: ...

    @property
    @abstractmethod
    def port(self) -> int: ...

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.paths.logs / f"{self.name}.log"

    @property
    def starts_later(self) -> bool:
        """True when ``start`` first builds for minutes: ``stack up`` does not wait."""
        return False

    def ports(self) -> list[int]:
        """Every port the service will listen on (checked free before start)."""
        return [self.port]

    @abstractmethod
    async def healthy(self) -> bool:
        """Ask the service over its own protocol whether it serves Riverbed."""

    @abstractmethod
    def provision(self, say: Say) -> None:
        """Download, build or install what the service needs (idempotent, blocking)."""

    @abstractmethod
    def start(self, say: Say) -> int:
        """Start the service in the background and return its pid (blocking)."""

    async def after_start(self, say: Say) -> None:  # noqa: B027 - optional hook
        """Set-up that needs the running server (roles, databases)."""

    @abstractmethod
    def stop(self, pid: int | None) -> None:
        """Stop what ``start`` started (blocking)."""

    def wipe(self) -> None:
        shutil.rmtree(self.paths.data / self.name, ignore_errors=True)


def require_tool(tool: str, fix: str, *, extra_paths: tuple[str, ...] = ()) -> str:
    """The path of ``tool`` or a StackError that says how to get it."""
    found = shutil.which(tool)
    for candidate in extra_paths:
        if not found and Path(candidate).exists():
            found = candidate
    if not found:
        raise StackError(f"{tool} was not found on PATH", fix=fix)
    return found


def run_step(args: list[str], *, what: str, fix: str, log_file: Path, **kwargs: object) -> str:
    """Run a blocking set-up command; on failure raise a StackError with its output."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    with log_file.open("a") as log:
        log.write(f"$ {' '.join(args)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        out = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
        raise StackError(
            f"{what} failed (exit {proc.returncode}):\n    " + "\n    ".join(out), fix=fix
        )
    return str(proc.stdout)


@contextmanager
def writable_source(module_dir: str, prefix: str) -> Iterator[Path]:
    """A writable copy of a downloaded Go module (the module cache's is read-only), for
    ``go build`` in place: ``go install`` fails on the replace directives of the modules
    built here (FerretDB, Jaeger). Removed on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(module_dir, src)
        for path in src.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        yield src
