"""``riverbed gateway``: serves over HTTPS when TLS is configured; ``gateway keys`` is
the ``riverbed keys`` group (tested in test_keys_command.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from core.settings import get_settings
from producers.gateway import server
from riverbed.commands import keys
from riverbed.commands.gateway import command

pytestmark = pytest.mark.unit


def test_gateway_keys_is_the_keys_group(keys_file: Path) -> None:
    assert command.commands["keys"] is keys.command
    runner = CliRunner()
    created = runner.invoke(command, ["keys", "create", "--name", "storefront", "--types", "*"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("rbk_") and key not in keys_file.read_text()
    assert runner.invoke(command, ["keys", "revoke", "storefront"]).exit_code == 0


def test_the_gateway_serves_https_with_the_configured_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys_file: Path
) -> None:
    cert, key = tmp_path / "gw.crt", tmp_path / "gw.key"
    monkeypatch.setenv("RIVERBED_GATEWAY_TLS_CERTFILE", str(cert))
    monkeypatch.setenv("RIVERBED_GATEWAY_TLS_KEYFILE", str(key))
    get_settings.cache_clear()
    served: dict[str, Any] = {}
    monkeypatch.setattr(server, "serve", lambda config: served.update(config=config))

    result = CliRunner().invoke(command, ["--port", "8443"])

    assert result.exit_code == 0, result.output
    config = served["config"]
    assert (config.ssl_certfile, config.ssl_keyfile) == (str(cert), str(key))
    assert config.port == 8443


def test_the_uvicorn_config_carries_the_certificate_or_nothing(tmp_path: Path) -> None:
    cert, key = tmp_path / "gw.crt", tmp_path / "gw.key"
    tls = server.server_config(object(), host="h", port=1, ssl_certfile=cert, ssl_keyfile=key)
    assert (tls.ssl_certfile, tls.ssl_keyfile) == (str(cert), str(key))
    plain = server.server_config(object(), host="h", port=1)
    assert plain.ssl_certfile is None and plain.ssl_keyfile is None
    with pytest.raises(ValueError, match="both"):
        server.server_config(object(), host="h", port=1, ssl_certfile=cert)
