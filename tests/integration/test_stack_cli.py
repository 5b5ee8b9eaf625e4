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
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert set(lines) == {"kafka", "postgres", "ferretdb"}
    for name, cols in lines.items():
        assert cols[2] in ("running", "external"), (name, cols)


def test_second_up_is_a_no_op() -> None:
    before = riverbed("stack", "status").stdout
    result = riverbed("stack", "up")
    assert result.returncode == 0, result.stderr
    assert "starting" not in result.stderr
    assert result.stderr.count("already running") + result.stderr.count("using the server") == 3
    assert riverbed("stack", "status").stdout == before  # same pids, same start-up times
