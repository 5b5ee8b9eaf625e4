"""The ``riverbed`` command: one click group, each sub-command in ``riverbed.commands``."""

from __future__ import annotations

import importlib
import importlib.util

import click

from riverbed import __version__

# Each module defines a click command or group named ``command``; registration is lazy
# so that ``riverbed --help`` never imports faust, FastAPI or the drivers.
COMMAND_MODULES: dict[str, str] = {
    "stack": "riverbed.commands.stack",
    "smoke": "riverbed.commands.smoke",
    "demo": "riverbed.commands.demo",
    "schemas": "riverbed.commands.schemas",
    "migrate": "riverbed.commands.migrate",
    "worker": "riverbed.commands.worker",
    "dlq": "riverbed.commands.dlq",
    "topics": "riverbed.commands.topics",
    "gateway": "riverbed.commands.gateway",
    "keys": "riverbed.commands.keys",
    "simulate": "riverbed.commands.simulate",
    "dashboard": "riverbed.commands.dashboard",
    "bench": "riverbed.commands.bench",
    "capacity": "riverbed.commands.capacity",
    "chaos": "riverbed.commands.chaos",
    "deploy": "riverbed.commands.deploy",
    "recs": "riverbed.commands.recs",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, m in COMMAND_MODULES.items() if importlib.util.find_spec(m))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(module_name)
        command: click.Command = module.command
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="riverbed")
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """Riverbed: event-driven microservices on Apache Kafka."""
    from core.logs import configure
    from core.settings import get_settings

    configure(get_settings(), "DEBUG" if verbose else None)
