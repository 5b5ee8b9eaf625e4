"""``riverbed topics create | list`` against the real broker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from click.testing import CliRunner

from core.settings import get_settings
from riverbed.commands.topics import command
from schemas import TOPIC_PARTITIONS


async def test_topics_create_then_list_shows_every_topic_with_its_partitions(
    uid: str, kafka_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under a prefix of the test's own (RIVERBED_TOPIC_PREFIX, as a user would set it):
    # the user's default topics are not the test's to create.
    prefix = f"test.{uid}."
    monkeypatch.setenv("RIVERBED_TOPIC_PREFIX", prefix)
    get_settings.cache_clear()  # the commands read the settings through this cache
    runner = CliRunner()
    try:
        # The command runs its own event loop: keep it off the test's.
        created = await asyncio.to_thread(runner.invoke, command, ["create"])
        assert created.exit_code == 0, created.output
        listed = await asyncio.to_thread(runner.invoke, command, ["list"])
        assert listed.exit_code == 0, listed.output
        rows = {line.split()[0]: line.split()[1:] for line in listed.output.splitlines()[1:]}
        for name, partitions in TOPIC_PARTITIONS.items():
            assert rows[prefix + name] == [str(partitions), str(partitions), "ok"]
    finally:
        monkeypatch.delenv("RIVERBED_TOPIC_PREFIX")
        get_settings.cache_clear()
        await kafka_admin.delete_topics([prefix + name for name in TOPIC_PARTITIONS])
