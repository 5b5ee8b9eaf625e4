"""``python -m dashboard [--host --port]``: the same as ``riverbed dashboard``."""

from riverbed.commands.dashboard import command

command()
