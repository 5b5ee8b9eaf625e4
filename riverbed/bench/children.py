"""Helpers for the processes a benchmark starts: environment, ports, CPU and memory."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from core.settings import Settings


def child_env(settings: Settings) -> dict[str, str]:
    """Let child processes cache bytecode, outside the repository.

    Where ``PYTHONDONTWRITEBYTECODE`` is set, every worker compiled ~1,800 modules from
    source at each start (3-5 CPU-seconds each, 7 workers per run); an empty value
    re-enables the cache, and ``PYTHONPYCACHEPREFIX`` keeps it in the cache directory.
    """
    return {
        "PYTHONDONTWRITEBYTECODE": "",
        "PYTHONPYCACHEPREFIX": str((settings.cache_dir / "pycache").resolve()),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """VmHWM, the peak resident set of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
