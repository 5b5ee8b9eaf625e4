"""Run a set of Riverbed processes together and stop them together.

Children run in their own sessions, so a Ctrl-C reaches the supervisor only; it then
stops them in reverse start order (SIGTERM, then SIGKILL after a grace period) and
leaves no orphan behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from riverbed.stack.process import tail


class Supervisor:
    """``own_sessions``: each child leads its own process group (the demo's children);
    otherwise children stay in the supervisor's group, so a signal to that group (a
    parent supervisor stopping it, or Ctrl-C in a terminal) reaches them too."""

    def __init__(
        self, log_dir: Path, env: dict[str, str] | None = None, *, own_sessions: bool = True
    ) -> None:
        self.log_dir = log_dir
        self.env = {**os.environ, **(env or {})}
        self.own_sessions = own_sessions
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``riverbed ARGS`` (this interpreter) as ``name``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file(name).open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "riverbed", *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=self.own_sessions,
            )
        self.procs[name] = proc
        return proc

    def exited(self) -> str | None:
        """The name of a child that has exited, if any."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return name
        return None

    def describe_exit(self, name: str) -> str:
        proc = self.procs[name]
        return f"{name} exited with {proc.returncode}; last log lines:\n{tail(self.log_file(name))}"

    def stop_all(self, grace: float = 20.0) -> None:
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                self._signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in reversed(self.procs.values()):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait()

    def _signal(self, proc: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.own_sessions:
                os.killpg(proc.pid, sig)  # the child and everything it started
            else:
                proc.send_signal(sig)
