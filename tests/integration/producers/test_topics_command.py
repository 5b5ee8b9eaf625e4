"""``riverbed topics create | list`` against the real broker."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner

from riverbed.commands.topics import command
from schemas import TOPIC_PARTITIONS


async def test_topics_create_then_list_shows_every_topic_with_its_partitions() -> None:
    runner = CliRunner()
    # The command runs its own event loop: keep it off the test's.
    created = await asyncio.to_thread(runner.invoke, command, ["create"])
    assert created.exit_code == 0, created.output
    listed = await asyncio.to_thread(runner.invoke, command, ["list"])
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[0]: line.split()[1:] for line in listed.output.splitlines()[1:]}
    for name, partitions in TOPIC_PARTITIONS.items():
        assert rows[name] == [str(partitions), str(partitions), "ok"]
