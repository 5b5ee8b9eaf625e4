"""Riverbed's roof: the CLI (`riverbed.cli`, one module per command) and the harnesses
(stack control, sandbox, chaos, bench). Nothing in the project imports this package."""

from core import __version__

__all__ = ["__version__"]
