"""CPU seconds per process group, read from /proc: where each event's microseconds go.

A :class:`CpuMeter` is read before and after a measured phase; the difference, divided
by the events of the phase, is the CPU per event of each group. Groups:

* each worker kind of a namespace (every process of the kind summed);
* ``postgresql``: the postmaster, its live backends, and (through the postmaster's
  ``cutime``/``cstime``) the backends that exited and were reaped in between;
* ``broker``: the Kafka JVM (all its threads);
* ``bench``: this process, the load generator.

The services' pids come from ``riverbed stack status`` (the local stack's run state); a
service not started by the stack (an external server) is left out and reported as such.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import Settings
from riverbed.sandbox import Namespace
from riverbed.stack.manager import Stack

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as file:
        # After the ")" that closes the command name: field 3 (state) is index 0.
        return file.read().rsplit(")", 1)[1].split()


def own_cpu(pid: int) -> float:
    """utime + stime of a live process, in seconds (0 when it is gone)."""
    try:
        f = _stat(pid)
    except OSError:
        return 0.0
    return (int(f[11]) + int(f[12])) / _TICK


def tree_cpu(pid: int) -> float:
    """A parent's CPU, its reaped children's (cutime + cstime) and its live children's."""
    try:
        f = _stat(pid)
    except OSError:
        return 0.0
    total = sum(int(x) for x in f[11:15]) / _TICK
    for child in _children(pid):
        total += own_cpu(child)
    return total


def _children(pid: int) -> Iterable[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    yield int(entry.name)
            except (OSError, IndexError, ValueError):
                continue


@dataclass
class CpuMeter:
    """Reads the CPU seconds of the groups of one namespace's pipeline."""

    ns: Namespace
    kinds: tuple[str, ...]
    services: dict[str, int] = field(default_factory=dict)  # group -> pid

    @classmethod
    async def of(cls, settings: Settings, ns: Namespace, kinds: tuple[str, ...]) -> CpuMeter:
        pids = {s.name: s.pid for s in await Stack(settings).status() if s.managed and s.pid}
        services = {}
        if "postgres" in pids:
            services["postgresql"] = pids["postgres"]
        if "kafka" in pids:
            services["broker"] = pids["kafka"]
        return cls(ns, kinds, services)

    def read(self) -> dict[str, float]:
        cpu = {
            f"{kind} worker": sum(own_cpu(p.pid) for p in self.ns.workers.get(kind, []))
            for kind in self.kinds
        }
        for group, pid in self.services.items():
            cpu[group] = tree_cpu(pid)
        cpu["bench"] = own_cpu(os.getpid())
        return cpu


def per_event_us(
    before: dict[str, float], after: dict[str, float], events: int
) -> dict[str, float]:
    """Microseconds of CPU per event of each group between two readings."""
    return {k: (after[k] - before[k]) / events * 1e6 for k in after if k in before}
