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


def test_create_binds_stores_and_users_and_list_shows_them(keys_file: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(
        main,
        ["keys", "create", "--name", "shop-7", "--types", "order.*", "--stores", "s-7,s-8"],
    )
    assert created.exit_code == 0, created.output
    assert "stores s-7,s-8" in created.stderr
    player = ["keys", "create", "--name", "p", "--types", "playback.*", "--users", "u-1"]
    assert runner.invoke(main, player).exit_code == 0
    table = rows(runner.invoke(main, ["keys", "list"]).stdout)
    assert table["shop-7"].endswith(" order.* stores=s-7,s-8")
    assert table["p"].endswith(" playback.* users=u-1")
    entries = {e["name"]: e for e in json.loads(keys_file.read_text())["keys"]}
    assert entries["shop-7"]["stores"] == ["s-7", "s-8"] and entries["shop-7"]["users"] is None

    bad = runner.invoke(main, ["keys", "create", "--name", "x", "--types", "*", "--stores", "a b"])
    assert bad.exit_code == 1 and "bad id" in bad.stderr


def test_reader_keys_live_in_their_own_file_and_need_no_types(
    keys_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import get_settings

    readers = tmp_path / "reader-keys.json"
    monkeypatch.setenv("RIVERBED_DASHBOARD_KEYS_FILE", str(readers))
    get_settings.cache_clear()
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--reader", "--name", "ops"])
    assert created.exit_code == 0, created.output
    assert "reader key" in created.stderr and readers.exists() and not keys_file.exists()
    assert "ops" in rows(runner.invoke(main, ["keys", "list", "--reader"]).stdout)
    assert "ops" not in rows(runner.invoke(main, ["keys", "list"]).stdout)
    mixed = runner.invoke(main, ["keys", "create", "--reader", "--name", "x", "--types", "*"])
    assert mixed.exit_code != 0 and "no --types" in mixed.output
    missing = runner.invoke(main, ["keys", "create", "--name", "y"])
    assert missing.exit_code != 0 and "--types" in missing.output
    assert runner.invoke(main, ["keys", "revoke", "--reader", "ops"]).exit_code == 0
    get_settings.cache_clear()


def test_player_token_keys_and_minting_a_token(
    keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from core.settings import get_settings
    from producers.gateway.player import user_of

    runner = CliRunner()
    refused = runner.invoke(main, ["keys", "player-token", "--user", "u-1"])
    assert refused.exit_code == 1 and "PLAYER_TOKEN_SECRET" in refused.stderr
    secret = "a-player-token-secret-of-enough-length-42"
    monkeypatch.setenv("RIVERBED_GATEWAY_PLAYER_TOKEN_SECRET", secret)
    get_settings.cache_clear()
    made = ["keys", "create", "--name", "tv", "--types", "playback.*", "--player-tokens"]
    created = runner.invoke(main, made)
    assert created.exit_code == 0 and "player tokens required" in created.stderr
    assert rows(runner.invoke(main, ["keys", "list"]).stdout)["tv"].endswith(" player-tokens")
    minted = runner.invoke(main, ["keys", "player-token", "--user", "u-1", "--ttl", "60"])
    assert minted.exit_code == 0, minted.output
    token = minted.stdout.strip()
    assert user_of(token, secret, time.time()) == "u-1"
    assert user_of(token, secret, time.time() + 61) is None  # expired after the ttl
    bad = runner.invoke(main, ["keys", "player-token", "--user", "u.1"])
    assert bad.exit_code == 1 and "bad user id" in bad.stderr
    get_settings.cache_clear()
