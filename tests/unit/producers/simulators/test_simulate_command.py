from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from producers.simulators import RunStats
from riverbed.commands.simulate import ProgressLine, command

pytestmark = pytest.mark.unit

OPENING = 8 * 120


def dry_run(tmp_path: Path, name: str, *args: str) -> bytes:
    out = tmp_path / name
    result = CliRunner().invoke(command, ["--dry-run", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of --count N or --duration SECONDS"),
        (["--count", "5", "--duration", "1"], "exactly one of --count"),
        (["--count", "5", "--out", "x.jsonl"], "--out goes with --dry-run"),
        (["--count", "5", "--mix", "orders=1,shipping=1"], "unknown stream 'shipping'"),
        (["--count", "5", "--mix", "orders=0"], "at least one weight"),
        (["--count", "0"], "--count"),
    ],
)
def test_usage_errors_are_clear(args: list[str], message: str) -> None:
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 2
    assert message in result.output


def test_dry_run_is_reproducible_per_seed(tmp_path: Path) -> None:
    a = dry_run(tmp_path, "a.jsonl", "--count", "300", "--seed", "7")
    b = dry_run(tmp_path, "b.jsonl", "--count", "300", "--seed", "7")
    c = dry_run(tmp_path, "c.jsonl", "--count", "300", "--seed", "8")
    assert a == b != c
    lines = a.splitlines()
    assert len(lines) == OPENING + 300
    assert {json.loads(line)["type"] for line in lines[:OPENING]} == {"stock.received"}


def test_dry_run_without_opening_stock_writes_only_the_mix(tmp_path: Path) -> None:
    only_mix = dry_run(tmp_path, "m.jsonl", "--count", "50", "--seed", "7", "--no-initial-stock")
    with_opening = dry_run(tmp_path, "o.jsonl", "--count", "50", "--seed", "7")
    assert only_mix.splitlines() == with_opening.splitlines()[OPENING:]


def test_dry_run_to_stdout_with_a_mix(tmp_path: Path) -> None:
    args = ["--dry-run", "--count", "40", "--seed", "1", "--mix", "viewing=1", "--no-initial-stock"]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0
    types = {json.loads(line)["type"] for line in result.stdout_bytes.splitlines()}
    assert types and all(t.startswith("playback.") for t in types)
    assert "seed 1" in result.stderr and "sent 40" in result.stderr


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    out = io.StringIO()
    line = ProgressLine("simulate", out, tty=True)
    line.finish(RunStats(sent=1500, failed=2, elapsed=1.5))
    text = out.getvalue()
    assert text.startswith("\rsimulate:") and text.endswith("\x1b[K\n")
    assert "1,000 ev/s" in text and "sent 1,500" in text and "failed 2" in text


def test_progress_prints_plain_lines_elsewhere() -> None:
    out = io.StringIO()
    line = ProgressLine("simulate", out, tty=False)
    line(RunStats(sent=1, elapsed=0.1))  # too soon after the start: throttled
    line.finish(RunStats(sent=10, elapsed=1.0))
    assert out.getvalue().count("\n") == 1 and "\r" not in out.getvalue()
