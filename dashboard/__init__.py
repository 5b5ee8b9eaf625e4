"""The live dashboard and read API: ``create_app(settings)``; ``riverbed dashboard`` serves it."""

from dashboard.app import create_app

__all__ = ["create_app"]
