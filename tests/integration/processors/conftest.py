"""Fixtures for worker tests: an isolated namespace with seeded customers."""

from __future__ import annotations

import pytest

from riverbed.sandbox import Namespace

CUSTOMERS = [f"c{i}" for i in range(20)]


@pytest.fixture
async def ns(ns: Namespace) -> Namespace:
    """The shared namespace fixture, with known customers seeded."""
    conn = await ns.owner()
    try:
        await conn.executemany(
            "insert into customers (customer_id, name) values ($1, $2)",
            [(c, f"Customer {c}") for c in CUSTOMERS],
        )
    finally:
        await conn.close()
    return ns
