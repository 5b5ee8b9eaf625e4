"""Authentication is cheap and throttled: a burst of wrong secrets costs no more CPU than
the same burst of valid requests; legacy scrypt keys and guessing clients are limited."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from producers.gateway import KeyStore, ScryptParams, create_app
from producers.gateway.failures import FailureLimit
from tests.unit.producers.gateway_fakes import MemoryPublisher, gateway_settings, order

pytestmark = pytest.mark.unit

BURST = 300


@pytest.fixture
def gw_settings(settings: Settings, tmp_path: Path) -> Settings:
    return gateway_settings(
        settings,
        tmp_path,
        "bootstrap-key-for-unit-tests",
        gateway_auth_failures_per_min=10**6,  # measure hashing, not the client limit
    )


async def _cpu_of(send: Callable[[], Awaitable[int]], expected: int) -> float:
    start = time.process_time()
    for _ in range(BURST):
        assert await send() == expected
    return time.process_time() - start


async def test_a_burst_of_wrong_secrets_costs_no_more_cpu_than_valid_requests(
    gw_settings: Settings,
) -> None:
    # The real cost parameters: nothing here is scaled down for the test.
    keys = KeyStore(gw_settings.gateway_keys_file, params=ScryptParams())
    key = keys.create("shop", types=["order.*"])
    wrong = key[:-8] + "A" * 8  # the right id, a wrong secret: the costly case for scrypt
    app = create_app(gw_settings, publisher=MemoryPublisher(gw_settings), keys=keys)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:

            async def send(secret: str) -> int:
                response = await client.post(
                    "/v1/events", json=order(), headers={"X-API-Key": secret}
                )
                return response.status_code

            await send(key)  # warm-up: imports, contract lookup
            valid = await _cpu_of(lambda: send(key), 202)
            # Each wrong secret is a different one, so no failure cache helps.
            counter = iter(range(10**6))
            bad = await _cpu_of(lambda: send(f"{wrong[:-6]}{next(counter):06d}"), 401)
    assert bad <= valid * 1.2, f"wrong secrets cost {bad:.3f}s of CPU, valid ones {valid:.3f}s"


def _legacy_file(path: Path, params: ScryptParams) -> str:
    """A key file as version 2 wrote it: scrypt hashes, no object bindings."""
    key = KeyStore(path, params=params, kdf="scrypt").create("legacy", types=["order.*"])
    document = json.loads(path.read_text())
    for entry in document["keys"]:
        del entry["stores"], entry["users"]
    path.write_text(json.dumps({**document, "version": 2}))
    return key


def test_a_legacy_scrypt_key_still_verifies_and_wrong_secrets_stop_hashing_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = ScryptParams(n=16, r=1, p=1)
    path = tmp_path / "api-keys.json"
    key = _legacy_file(path, params)
    now = [0.0]
    store = KeyStore(path, failures=FailureLimit(3, 60.0, clock=lambda: now[0]))
    assert store.verify(key) is not None  # the old format keeps working

    import producers.gateway.keys as keys_module

    hashes: list[int] = []
    real = keys_module.hash_secret
    monkeypatch.setattr(keys_module, "hash_secret", lambda *a: hashes.append(1) or real(*a))
    fresh = KeyStore(path, failures=FailureLimit(3, 60.0, clock=lambda: now[0]))
    for n in range(50):
        assert fresh.verify(f"{key[:-6]}{n:06d}") is None
    assert len(hashes) == 3  # then the id is refused without hashing
    now[0] = 61.0  # the window passed: the right key verifies again
    assert fresh.verify(key) is not None


async def test_a_client_that_keeps_failing_gets_429_before_any_check(
    gw_settings: Settings,
) -> None:
    limited = gw_settings.model_copy(update={"gateway_auth_failures_per_min": 5})
    keys = KeyStore(limited.gateway_keys_file)
    key = keys.create("shop", types=["order.*"])
    app = create_app(limited, publisher=MemoryPublisher(limited), keys=keys)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app, client=("203.0.113.7", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            statuses = [
                (
                    await client.post("/v1/events", json=order(), headers={"X-API-Key": "no"})
                ).status_code
                for _ in range(7)
            ]
            assert statuses == [401] * 5 + [429] * 2
            blocked = await client.post("/v1/events", json=order(), headers={"X-API-Key": key})
            assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
        other = httpx.ASGITransport(app, client=("203.0.113.8", 1234))
        async with httpx.AsyncClient(transport=other, base_url="http://gw") as client:
            ok = await client.post("/v1/events", json=order(), headers={"X-API-Key": key})
            assert ok.status_code == 202
