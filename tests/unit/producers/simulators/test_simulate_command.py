from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from producers.simulators import RunStats
from riverbed.commands.simulate import ProgressLine, command

pytestmark = pytest.mark.unit

OPENING = 8 * 120
EPOCH = "2025-01-06T08:00:00Z"


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


def test_dry_run_is_reproducible_per_seed_and_epoch(tmp_path: Path) -> None:
    a = dry_run(tmp_path, "a.jsonl", "--count", "300", "--seed", "7", "--epoch", EPOCH)
    b = dry_run(tmp_path, "b.jsonl", "--count", "300", "--seed", "7", "--epoch", EPOCH)
    c = dry_run(tmp_path, "c.jsonl", "--count", "300", "--seed", "8", "--epoch", EPOCH)
    assert a == b != c
    lines = a.splitlines()
    assert len(lines) == OPENING + 300
    assert {json.loads(line)["type"] for line in lines[:OPENING]} == {"stock.received"}


def test_dry_run_without_opening_stock_writes_only_the_mix(tmp_path: Path) -> None:
    args = ("--count", "50", "--seed", "7", "--epoch", EPOCH)
    only_mix = dry_run(tmp_path, "m.jsonl", *args, "--no-initial-stock")
    with_opening = dry_run(tmp_path, "o.jsonl", *args)
    assert only_mix.splitlines() == with_opening.splitlines()[OPENING:]


def test_dry_run_to_stdout_with_a_mix(tmp_path: Path) -> None:
    args = ["--dry-run", "--count", "40", "--seed", "1", "--mix", "viewing=1", "--no-initial-stock"]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0
    types = {json.loads(line)["type"] for line in result.stdout_bytes.splitlines()}
    assert types and all(t.startswith("playback.") for t in types)
    assert "seed 1" in result.stderr and "sent 40" in result.stderr


def test_by_default_events_are_stamped_with_the_wall_clock(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    lines = dry_run(tmp_path, "w.jsonl", "--count", "200", "--seed", "7").splitlines()
    after = datetime.now(UTC)
    times = [datetime.fromisoformat(json.loads(line)["occurred_at"]) for line in lines]
    assert len(times) == OPENING + 200
    assert before <= times[0] and times[-1] <= after
    assert times == sorted(times)


def test_the_wall_clock_changes_only_the_times(tmp_path: Path) -> None:
    def without_times(data: bytes) -> list[dict[str, object]]:
        events = [json.loads(line) for line in data.splitlines()]
        for e in events:
            del e["occurred_at"]
        return events

    fixed = dry_run(tmp_path, "f.jsonl", "--count", "300", "--seed", "7", "--epoch", EPOCH)
    wall = dry_run(tmp_path, "w.jsonl", "--count", "300", "--seed", "7")
    assert fixed != wall
    assert without_times(fixed) == without_times(wall)


@pytest.mark.parametrize(
    ("epoch", "first"),
    [
        (EPOCH, "2025-01-06T08:00:00.100000Z"),
        ("2025-01-06T09:00:00+01:00", "2025-01-06T08:00:00.100000Z"),
        ("2030-05-01T12:30:00", "2030-05-01T12:30:00.100000Z"),  # no offset: UTC
    ],
)
def test_epoch_fixes_the_simulated_start(tmp_path: Path, epoch: str, first: str) -> None:
    out = dry_run(tmp_path, "e.jsonl", "--count", "3", "--seed", "1", "--epoch", epoch)
    mix = [json.loads(line) for line in out.splitlines()[OPENING:]]
    assert mix[0]["occurred_at"] == first
    assert all(json.loads(line)["occurred_at"] < first for line in out.splitlines()[:OPENING])


def test_an_unreadable_epoch_is_a_usage_error() -> None:
    result = CliRunner().invoke(command, ["--count", "1", "--dry-run", "--epoch", "monday"])
    assert result.exit_code == 2
    assert "not an ISO 8601 time" in result.output


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
