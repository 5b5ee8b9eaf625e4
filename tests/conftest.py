"""Shared fixtures. Service fixtures live in tests/integration/conftest.py."""

from __future__ import annotations

import uuid

import pytest

from core.settings import Settings, get_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def uid() -> str:
    """A short unique suffix so each test owns its topics, groups and tables."""
    return uuid.uuid4().hex[:10]
