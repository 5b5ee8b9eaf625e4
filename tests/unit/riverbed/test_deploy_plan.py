"""The charts' Kafka plan is the code's: topics, worker kinds and the secure broker's ACLs."""

from __future__ import annotations

import json

import pytest

from processors.kinds import KINDS, WORKER_TOPICS
from riverbed.deploy import plan
from riverbed.stack.acls import ADMIN, PRINCIPALS, acl_plan
from schemas.topics import TOPIC_PARTITIONS

pytestmark = pytest.mark.unit


def test_both_charts_carry_the_plan_the_code_generates() -> None:
    assert plan.stale() == [], "run `uv run riverbed deploy plan --write`"


def test_the_plans_acls_are_the_secure_brokers_plan_for_any_prefixes() -> None:
    rules = json.loads(plan.PLAN_FILES[1].read_text())["acls"]
    for topics, groups in (("", "riverbed"), ("prod.", "rb")):
        assert plan.bindings_of(rules, topics, groups) == acl_plan(
            topic_prefix=topics, group_prefix=groups
        )


def test_a_changed_acl_plan_is_seen_as_drift() -> None:
    rules = plan.build()["acls"]
    rules["gateway"][0]["operations"].append("Read")  # a grant the local broker lacks
    assert plan.bindings_of(rules, "", "riverbed") != acl_plan(
        topic_prefix="", group_prefix="riverbed"
    )


def test_topics_workers_and_principals_follow_the_code() -> None:
    built = plan.build()
    assert {t["name"]: t["partitions"] for t in built["topics"]} == TOPIC_PARTITIONS
    assert [(w["kind"], w["topic"], w["partitions"]) for w in built["workers"]] == [
        (k, WORKER_TOPICS[k], TOPIC_PARTITIONS[WORKER_TOPICS[k]]) for k in KINDS
    ]
    assert built["principals"] == list(PRINCIPALS)
    assert built["superUsers"] == [ADMIN] and ADMIN not in built["acls"]
