"""Free local ports for tests that start a broker of their own."""

from __future__ import annotations

import random
import socket
from collections.abc import Callable
from pathlib import Path


def below_ephemeral() -> int:
    """The upper bound for picked ports: the kernel's ephemeral range starts there (outgoing
    connections of other programs would otherwise grab a port before the broker binds), and
    never above 30 000."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    return min(low, 30_000)


def pick_free(candidates: Callable[[], list[int]]) -> list[int]:
    """The first list from ``candidates`` whose ports all bind on 127.0.0.1 now."""
    while True:
        ports = candidates()
        sockets = []
        try:
            for port in ports:
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return ports
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()


def free_ports(count: int) -> list[int]:
    """``count`` ports, free now, from 20 000 up to the ephemeral range."""
    return pick_free(lambda: random.sample(range(20_000, below_ephemeral()), count))


def consecutive_free_ports(count: int) -> list[int]:
    """``count`` consecutive ports, free now, from 20 000 up to the ephemeral range (a
    service that binds a base port plus an index, as the workers' metrics do)."""

    def run() -> list[int]:
        base = random.randrange(20_000, below_ephemeral() - count)
        return list(range(base, base + count))

    return pick_free(run)
