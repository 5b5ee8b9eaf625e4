"""Fixtures for worker tests: an isolated namespace with seeded customers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from riverbed.sandbox import Namespace
from riverbed.settings import Settings

CUSTOMERS = [f"c{i}" for i in range(20)]


@pytest.fixture
async def ns(settings: Settings, uid: str, tmp_path: Path) -> AsyncIterator[Namespace]:
    space = Namespace(settings, uid, tmp_path)
    await space.create()
    conn = await space.owner()
    await conn.executemany(
        "insert into customers (customer_id, name) values ($1, $2)",
        [(c, f"Customer {c}") for c in CUSTOMERS],
    )
    await conn.close()
    try:
        yield space
    finally:
        print(space.logs())  # pytest shows captured output only for failing tests
        await space.drop()
