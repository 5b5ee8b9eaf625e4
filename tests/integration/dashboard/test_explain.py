"""Every SQL query of the dashboard and read API plans without a sequential scan."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashboard.queries import QUERIES
from tests.integration.dashboard.conftest import Running

pytestmark = pytest.mark.asyncio(loop_scope="session")


def node_types(plan: dict[str, Any]) -> list[str]:
    return [plan["Node Type"], *(t for child in plan.get("Plans", []) for t in node_types(child))]


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_query_uses_an_index(running: Running, name: str) -> None:
    sql, args = QUERIES[name]
    conn = await running.ns.owner()
    try:
        await conn.execute("set enable_seqscan = off")
        raw = await conn.fetchval(f"explain (format json) {sql}", *args)
    finally:
        await conn.close()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes = node_types(plan)
    assert "Seq Scan" not in nodes, f"{name}: {nodes}"
    assert any("Index" in n for n in nodes), f"{name}: {nodes}"
