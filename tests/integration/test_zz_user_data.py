"""Runs last (pytest collects files by name): the suite left the user's data alone.

Every test works in a namespace of its own (topics, groups, schema, Mongo database) and
removes it; none writes to the default schema, the default topics or the default Mongo
database, and none leaves a consumer group behind on the broker.
"""

from __future__ import annotations

import re

from core.settings import Settings
from tests.integration.user_data import UserData, snapshot

TEST_GROUP = re.compile(r"^(t[0-9a-f]{10}-|test-|bench-raw-)")


async def test_the_suite_left_the_users_data_as_it_found_it(
    settings: Settings, user_data_before: UserData
) -> None:
    after = await snapshot(settings)
    assert sorted(after.groups - user_data_before.groups) == [], "groups left on the broker"
    # Leftovers of an earlier, interrupted run (t<uid>-kind, test-…) may vanish on their own:
    # Kafka drops an empty group once its topics are gone. Any other group must stay.
    gone = sorted(g for g in user_data_before.groups - after.groups if not TEST_GROUP.match(g))
    assert gone == [], "the user's groups deleted"
    assert after.topics == user_data_before.topics, "default topics written"
    assert after.tables == user_data_before.tables, "the default Postgres schema changed"
    assert after.mongo == user_data_before.mongo, "the default Mongo database changed"
