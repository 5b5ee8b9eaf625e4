"""``riverbed topics create | list`` against the real broker."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from core.settings import Settings, get_settings
from riverbed.commands.topics import command
from schemas import TOPIC_PARTITIONS


async def test_topics_create_then_list_shows_every_topic_with_its_partitions(
    own_topics: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test's prefix given as a user would give it: RIVERBED_TOPIC_PREFIX.
    prefix = own_topics.topic_prefix
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
