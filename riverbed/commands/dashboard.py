"""``riverbed dashboard [--host --port]``: serve the live dashboard and the read API.

Only wiring: the app is :func:`dashboard.create_app`, served by
:func:`dashboard.server.serve` (one uvicorn process, whose one poller feeds every page).
"""

from __future__ import annotations

import click

from core.settings import get_settings


@click.command("dashboard")
@click.option("--host", default=None, help="Interface to bind [settings.dashboard_host].")
@click.option("--port", type=int, default=None, help="Port to bind [settings.dashboard_port].")
def command(host: str | None, port: int | None) -> None:
    """Serve the live dashboard (/), the read API (/api, /docs) and /metrics. Outside
    development, and for any non-loopback client, a reader key is needed (riverbed keys
    create --reader); only RIVERBED_DASHBOARD_ALLOWED_HOSTS are served."""
    from core.logs import uvicorn_log_config
    from dashboard import create_app
    from dashboard.config import DashboardConfig
    from dashboard.server import serve

    settings = get_settings()
    config = DashboardConfig.from_settings(settings)
    bind_host, bind_port = host or config.host, port or config.port
    click.echo(f"dashboard: http://{bind_host}:{bind_port}/  (API docs at /docs)", err=True)
    serve(
        create_app(settings, config=config),
        host=bind_host,
        port=bind_port,
        log_level=settings.log_level,
        log_config=uvicorn_log_config(settings),
    )
