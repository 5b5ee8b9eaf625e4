"""``riverbed keys ...``: keys with types, printed once, never stored in clear."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from riverbed.cli import main

pytestmark = pytest.mark.unit


def rows(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines()[1:] if line.strip()}


def test_create_with_types_list_them_and_revoke(keys_file: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(
        main, ["keys", "create", "--name", "storefront", "--types", "order.*,stock.received"]
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("rbk_") and key not in keys_file.read_text()
    assert "order.*, stock.received" in created.stderr

    also = runner.invoke(
        main, ["keys", "create", "--name", "player", "--types", "playback.*", "--types", "*"]
    )
    assert also.exit_code == 0, also.output

    listed = runner.invoke(main, ["keys", "list"])
    assert listed.exit_code == 0 and key not in listed.output
    assert listed.output.splitlines()[0].split() == ["NAME", "ID", "CREATED", "REVOKED", "TYPES"]
    table = rows(listed.stdout)
    assert table["storefront"].endswith(" order.*,stock.received")
    assert table["player"].endswith(" *")

    assert (
        runner.invoke(main, ["keys", "create", "--name", "storefront", "--types", "*"]).exit_code
        == 1
    )
    assert runner.invoke(main, ["keys", "revoke", "storefront"]).exit_code == 0
    assert runner.invoke(main, ["keys", "revoke", "storefront"]).exit_code == 1
    revoked = rows(runner.invoke(main, ["keys", "list"]).stdout)["storefront"].split()
    assert revoked[3] != "-"  # the REVOKED column has a date


def test_types_are_required_and_checked_against_the_known_event_types(keys_file: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["keys", "create", "--name", "shop"])
    assert missing.exit_code == 2 and "--types" in missing.output

    typo = runner.invoke(main, ["keys", "create", "--name", "shop", "--types", "order.*,ordr.*"])
    assert typo.exit_code == 1
    assert "'ordr.*' matches no known event type" in typo.stderr
    assert "order.placed" in typo.stderr  # the known types are listed
    assert not keys_file.exists()


def test_list_marks_keys_from_before_scopes_as_all_types(keys_file: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["keys", "create", "--name", "old", "--types", "*"]).exit_code == 0
    document = json.loads(keys_file.read_text())
    del document["keys"][0]["scopes"]
    keys_file.write_text(json.dumps({**document, "version": 1}))

    listed = runner.invoke(main, ["keys", "list"])
    assert rows(listed.stdout)["old"].endswith(" * (legacy)")
    assert "may publish every type" in listed.stderr
