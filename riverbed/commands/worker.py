"""``riverbed worker orders | inventory | viewing | all``."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import click

from processors.bootstrap import KINDS, build_worker
from riverbed.settings import get_settings


@click.command("worker")
@click.argument("kind", type=click.Choice([*KINDS, "all"]))
@click.option("--loglevel", default=None, help="faust log level (default: RIVERBED_LOG_LEVEL).")
def command(kind: str, loglevel: str | None) -> None:
    """Run a stream processor. Start more of one KIND to share its partitions."""
    settings = get_settings()
    if kind == "all":
        sys.exit(_run_all(loglevel))
    _ensure_topics(settings)
    import faust

    worker = build_worker(settings, kind)
    asyncio.set_event_loop(asyncio.new_event_loop())
    faust.Worker(
        worker.app, loglevel=(loglevel or settings.log_level).lower(), redirect_stdouts=False
    ).execute_from_commandline()


def _ensure_topics(settings: object) -> None:
    try:
        from producers.topics import ensure_topics
    except ImportError:  # pragma: no cover - topics module is part of the package
        return
    asyncio.run(ensure_topics(settings))  # type: ignore[arg-type]


def _run_all(loglevel: str | None) -> int:
    """One process per kind (a faust app owns its process); stop all if one exits."""
    extra = ["--loglevel", loglevel] if loglevel else []
    procs = {
        k: subprocess.Popen([sys.executable, "-m", "riverbed", "worker", k, *extra]) for k in KINDS
    }
    stopping = False

    def stop(_sig: int = 0, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while any(p.poll() is None for p in procs.values()):
        for kind, p in procs.items():
            if p.poll() is not None and not stopping:
                click.echo(
                    f"worker {kind} exited with {p.returncode}; stopping the others", err=True
                )
                code = p.returncode or 1
                stop()
        time.sleep(0.2)
    return code
