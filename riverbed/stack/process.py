"""Start, find and stop the local stack's child processes.

Each service records what it started in ``<data_dir>/run/<name>.json`` so that a later
``riverbed stack status`` or ``down`` (from another shell) finds it again. A pid is only
trusted when its command line still contains the service's marker, so a recycled pid of
an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class RunState:
    """What the stack knows about one running service."""

    name: str
    address: str
    managed: bool  # started by us (False: somebody else's server we use as is)
    pid: int | None = None
    marker: str = ""
    started_at: float = 0.0
    startup_seconds: float = 0.0

    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / f"{self.name}.json").write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, run_dir: Path, name: str) -> RunState | None:
        path = run_dir / f"{name}.json"
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))

    @staticmethod
    def forget(run_dir: Path, name: str) -> None:
        (run_dir / f"{name}.json").unlink(missing_ok=True)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int | None, marker: str = "") -> bool:
    """True when pid runs and (if given) its command line contains ``marker``."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if not marker:
        return True
    # A live process can read as an empty command line for a moment right after it
    # starts (seen with FerretDB): read again before calling it gone, or `stack up`
    # would take it for dead and start a second one.
    for attempt in range(10):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return False
        if cmdline or _zombie(pid):
            break
        time.sleep(0.02 * (attempt + 1))
    if b"<defunct>" in cmdline or not cmdline:
        return False
    return marker.encode() in cmdline


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


_children: dict[int, subprocess.Popen[bytes]] = {}


def exit_code(pid: int) -> int | None:
    """The exit code of a child this process started, if it has exited."""
    proc = _children.get(pid)
    return proc.poll() if proc is not None else None


def spawn(args: list[str], *, log_file: Path, env: dict[str, str] | None = None) -> int:
    """Start ``args`` detached in its own session, output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    _children[proc.pid] = proc
    return proc.pid


def terminate(pid: int, marker: str, *, timeout: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
    if not pid_alive(pid, marker):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if not pid_alive(pid, marker):
                return
            time.sleep(0.1)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
