"""Fixtures shared by the producers' unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings, get_settings
from producers.gateway import KeyStore, ScryptParams
from tests.unit.producers.gateway_fakes import DEFAULT_PEER, MemoryPublisher, gateway_client


@pytest.fixture
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The gateway's key file, in the test's own directory, for commands reading settings."""
    path = tmp_path / "api-keys.json"
    monkeypatch.setenv("RIVERBED_GATEWAY_KEYS_FILE", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


# The gateway's app tests: each module defines ``gw_settings``, these build on it.


@pytest.fixture
def key_store(gw_settings: Settings) -> KeyStore:
    """The gateway's keys, hashed with cheap scrypt parameters (the tests time nothing)."""
    return KeyStore(gw_settings.gateway_keys_file, params=ScryptParams(n=16, r=1, p=1))


@pytest.fixture
def publisher(gw_settings: Settings) -> MemoryPublisher:
    return MemoryPublisher(gw_settings)


@pytest.fixture
def peer() -> tuple[str, int]:
    """The address the gateway sees requests come from."""
    return DEFAULT_PEER


@pytest.fixture
async def client(
    gw_settings: Settings, publisher: MemoryPublisher, key_store: KeyStore, peer: tuple[str, int]
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in gateway_client(gw_settings, publisher, key_store, peer):
        yield c
