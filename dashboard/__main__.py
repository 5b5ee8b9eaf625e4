"""``python -m dashboard [--host H] [--port P]``: the dashboard alone, as ``riverbed dashboard``.

Wired here from ``dashboard``'s own parts: the dashboard sits below the CLI and never
imports it.
"""

from __future__ import annotations

import argparse

from core.logs import uvicorn_log_config
from core.settings import get_settings
from dashboard import create_app
from dashboard.config import DashboardConfig
from dashboard.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    parser.add_argument("--host", default=None, help="interface to bind [dashboard_host]")
    parser.add_argument("--port", type=int, default=None, help="port to bind [dashboard_port]")
    args = parser.parse_args(argv)
    settings = get_settings()
    config = DashboardConfig.from_settings(settings)
    serve(
        create_app(settings, config=config),
        host=args.host or config.host,
        port=args.port or config.port,
        log_level=settings.log_level,
        log_config=uvicorn_log_config(settings),
    )


if __name__ == "__main__":
    main()
