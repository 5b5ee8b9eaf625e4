"""``riverbed gateway [--host --port]`` serves the HTTP gateway (HTTPS when
``settings.gateway_tls_certfile`` and ``gateway_tls_keyfile`` are set);
``riverbed gateway keys ...`` is ``riverbed keys ...`` (see ``riverbed.commands.keys``).

Only wiring: the app is :func:`producers.gateway.create_app`, served by
:func:`producers.gateway.server.serve`.
"""

from __future__ import annotations

import click

from core.settings import get_settings
from riverbed.commands.keys import command as keys_command


@click.group("gateway", invoke_without_command=True)
@click.option("--host", default=None, help="Interface to bind [settings.gateway_host].")
@click.option("--port", type=int, default=None, help="Port to bind [settings.gateway_port].")
@click.pass_context
def command(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the HTTP gateway (one worker process), or manage its API keys."""
    if ctx.invoked_subcommand is not None:
        return
    from core.logs import uvicorn_log_config
    from producers.gateway import create_app
    from producers.gateway.server import serve, server_config

    settings = get_settings()
    config = server_config(
        create_app(settings),
        host=host or settings.gateway_host,
        port=port or settings.gateway_port,
        log_level=settings.log_level,
        ssl_certfile=settings.gateway_tls_certfile,
        ssl_keyfile=settings.gateway_tls_keyfile,
        log_config=uvicorn_log_config(settings),
    )
    serve(config)


# The same group as ``riverbed keys``: one implementation, two ways in.
command.add_command(keys_command, "keys")
