"""``riverbed stack`` against the running local stack."""

from __future__ import annotations

import subprocess
import sys


def riverbed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "riverbed", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_shows_every_service_healthy() -> None:
    result = riverbed("stack", "status")
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert set(lines) == {"kafka", "postgres", "ferretdb", "jaeger"}
    for name, cols in lines.items():
        # Jaeger may still be building from its Go module on a cold machine.
        allowed = (
            ("running", "external", "building") if name == "jaeger" else ("running", "external")
        )
        assert cols[2] in allowed, (name, cols)
    building = lines["jaeger"][2] == "building"
    assert result.returncode == (1 if building else 0), result.stdout + result.stderr


def test_second_up_is_a_no_op() -> None:
    before = riverbed("stack", "status").stdout
    result = riverbed("stack", "up")
    assert result.returncode == 0, result.stderr
    assert "starting" not in result.stderr
    known = ("already running", "using the server", "still building")
    assert sum(result.stderr.count(k) for k in known) == 4, result.stderr
    assert riverbed("stack", "status").stdout == before  # same pids, same start-up times
