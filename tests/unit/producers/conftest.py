"""Fixtures shared by the producers' unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import get_settings


@pytest.fixture
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The gateway's key file, in the test's own directory, for commands reading settings."""
    path = tmp_path / "api-keys.json"
    monkeypatch.setenv("RIVERBED_GATEWAY_KEYS_FILE", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()
