"""``riverbed worker orders | inventory | viewing | all``."""

from __future__ import annotations

import asyncio
import logging
import logging.config
import signal
import sys
import time
from typing import Any

import click

from core.logs import logging_config
from core.settings import get_settings
from processors.bootstrap import build_worker
from processors.kinds import KINDS
from riverbed.supervisor import Supervisor


@click.command("worker")
@click.argument("kind", type=click.Choice([*KINDS, "all"]))
@click.option("--loglevel", default=None, help="Log level (default: RIVERBED_LOG_LEVEL).")
def command(kind: str, loglevel: str | None) -> None:
    """Run a stream processor. Start more of one KIND to share its partitions."""
    settings = get_settings()
    if kind == "all":
        sys.exit(_run_all(loglevel))
    _ensure_topics(settings)
    worker = build_worker(settings, kind)
    level = (loglevel or settings.log_level).lower()
    if not hasattr(worker, "app"):  # a batch-native worker (every kind now): no faust app
        sys.exit(_run_native(worker, logging_config(settings, level)))
    import faust

    asyncio.set_event_loop(asyncio.new_event_loop())
    runner = faust.Worker(
        worker.app,
        loglevel=level,
        redirect_stdouts=False,
        logging_config=logging_config(settings, level),
    )
    # No start-up spinner: its log handler sets the root logger to DEBUG for good, so
    # every aiokafka debug call (one per sent message) would build a LogRecord.
    runner.spinner = None
    runner.execute_from_commandline()


def _run_native(worker: Any, log_config: dict[str, Any]) -> int:
    """Run ``worker.run()`` until SIGTERM/SIGINT, which stop it after its last flush."""
    logging.config.dictConfig(log_config)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # one debug line per fetch

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()

    asyncio.run(main())
    return 0


def _ensure_topics(settings: object) -> None:
    try:
        from producers.topic_admin import ensure_topics
    except ImportError:  # pragma: no cover - topics module is part of the package
        return
    asyncio.run(ensure_topics(settings))  # type: ignore[arg-type]


def _run_all(loglevel: str | None) -> int:
    """One process per kind (a faust app owns its process); stop all if one exits."""
    settings = get_settings()
    extra = ["--loglevel", loglevel] if loglevel else []
    supervisor = Supervisor(settings.data_dir.resolve() / "logs", own_sessions=False)
    for kind in KINDS:
        supervisor.start(f"worker-{kind}", "worker", kind, *extra)
        click.echo(f"worker {kind}: log in {supervisor.log_file(f'worker-{kind}')}", err=True)
    stop = False

    def request_stop(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    code = 0
    while not stop:
        dead = supervisor.exited()
        if dead:
            click.echo(supervisor.describe_exit(dead), err=True)
            code = 1
            break
        time.sleep(0.2)
    supervisor.stop_all()
    return code
