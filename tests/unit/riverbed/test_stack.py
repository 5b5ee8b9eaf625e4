"""The stack's own logic, without starting any service."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.errors import StackError
from core.settings import Settings
from riverbed.stack import kafka as kafka_module
from riverbed.stack.manager import Stack
from riverbed.stack.postgres import Dsn
from riverbed.stack.process import RunState, pid_alive, port_open

pytestmark = pytest.mark.unit


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port held by a plain TCP listener that speaks no Kafka."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_taken_by_another_program_is_a_clear_error(busy_port: int, tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        kafka_bootstrap=f"127.0.0.1:{busy_port}",
        data_dir=tmp_path,
    )
    stack = Stack(settings)
    stack.services = [s for s in stack.services if s.name == "kafka"]
    with pytest.raises(StackError) as err:
        asyncio.run(stack.up(lambda _m: None))
    assert f"port {busy_port}" in str(err.value)
    assert "taken by another program" in str(err.value)
    assert "stop that program" in err.value.fix
    assert RunState.load(tmp_path / "run", "kafka") is None  # nothing recorded as started


def test_missing_java_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(kafka_module.shutil, "which", lambda _tool: None)
    monkeypatch.setattr("riverbed.stack.base.shutil.which", lambda _tool: None)
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    service = kafka_module.Kafka(settings, Stack(settings).paths)
    with pytest.raises(StackError) as err:
        service.provision(lambda _m: None)
    assert "java was not found" in str(err.value)
    assert "apt-get install" in err.value.fix


def test_run_state_round_trip(tmp_path: Path) -> None:
    state = RunState(
        "kafka", "127.0.0.1:9092", managed=True, pid=123, marker="kafka.Kafka", startup_seconds=4.2
    )
    state.save(tmp_path)
    assert RunState.load(tmp_path, "kafka") == state
    RunState.forget(tmp_path, "kafka")
    assert RunState.load(tmp_path, "kafka") is None


def test_pid_alive_checks_the_command_line() -> None:
    import os

    assert pid_alive(os.getpid())
    assert pid_alive(os.getpid(), marker="python")
    assert not pid_alive(os.getpid(), marker="kafka.Kafka-not-this-process")
    assert not pid_alive(None)


def test_port_open(busy_port: int) -> None:
    assert port_open("127.0.0.1", busy_port)


def test_dsn_parse_unquotes_credentials() -> None:
    dsn = Dsn.parse(SecretStr("postgresql://app:p%40ss@db.local:6543/river").get_secret_value())
    assert dsn == Dsn(user="app", password="p@ss", host="db.local", port=6543, database="river")
