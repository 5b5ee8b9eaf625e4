"""Riverbed core: settings, CLI, bootstrap and control of the local service stack."""

__version__ = "0.1.0"
