"""``riverbed gateway keys ...``: the key is printed once and never stored in clear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from riverbed.commands.gateway import command
from riverbed.settings import get_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "api-keys.json"
    monkeypatch.setenv("RIVERBED_GATEWAY_KEYS_FILE", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_create_list_revoke(keys_file: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(command, ["keys", "create", "--name", "storefront"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("rbk_") and key not in keys_file.read_text()

    listed = runner.invoke(command, ["keys", "list"])
    assert "storefront" in listed.output and key not in listed.output

    assert runner.invoke(command, ["keys", "create", "--name", "storefront"]).exit_code == 1
    assert runner.invoke(command, ["keys", "revoke", "storefront"]).exit_code == 0
    assert runner.invoke(command, ["keys", "revoke", "storefront"]).exit_code == 1
    [row] = [
        r
        for r in runner.invoke(command, ["keys", "list"]).output.splitlines()
        if r.startswith("storefront")
    ]
    assert not row.rstrip().endswith(" -")  # the REVOKED column has a date
