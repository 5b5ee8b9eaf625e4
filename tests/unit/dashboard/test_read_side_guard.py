"""The read side's guard, in-process and without any database: reader keys (401 in
production, loopback free only in development), the Host check, bounded offsets (422),
the SSE cap (503), answers without addresses, and the CSP with local API docs."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.settings import Settings
from dashboard.app import create_app
from dashboard.guard import StreamCap
from producers.gateway import KeyStore
from producers.gateway import create_app as create_gateway

pytestmark = pytest.mark.unit

PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "postgres_dsn": SecretStr("postgresql://app:Xk3-long-secret@127.0.0.1:1/riverbed"),
    "postgres_owner_dsn": SecretStr("postgresql://own:Yk3-long-secret@127.0.0.1:1/riverbed"),
    "postgres_reader_dsn": SecretStr("postgresql://rd:Zk3-long-secret@127.0.0.1:1/riverbed"),
    "mongo_uri": SecretStr("mongodb://app:Mk3-long-secret@127.0.0.1:1/"),
    "kafka_security_protocol": "SASL_SSL",
    "kafka_username": "dashboard",
    "kafka_password": SecretStr("Kk3-long-secret"),
    "gateway_behind_tls_proxy": True,
}
LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.5", 50000)


def make(settings: Settings, tmp_path: Path, environment: str, **extra: Any) -> Settings:
    values = PRODUCTION if environment == "production" else {"environment": environment}
    return Settings.model_validate(
        {
            **settings.model_dump(),
            **values,
            "dashboard_keys_file": tmp_path / "reader-keys.json",
            "gateway_keys_file": tmp_path / "api-keys.json",
            **extra,
        }
    )


async def call(
    settings: Settings,
    path: str,
    *,
    client: tuple[str, int] = LOOPBACK,
    host: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    # No lifespan: nothing here starts the poller or opens a database connection.
    app = create_app(settings)
    transport = httpx.ASGITransport(app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as http:
        return await http.get(path, headers=headers or {})


def reader_key(settings: Settings) -> str:
    return KeyStore(settings.dashboard_keys_file).create("viewer", types=["*"])


# -- keys ------------------------------------------------------------------------------


async def test_production_needs_a_reader_key_even_on_loopback(
    settings: Settings, tmp_path: Path
) -> None:
    prod = make(settings, tmp_path, "production")
    refused = await call(prod, "/api/snapshot")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    assert "reader key" in refused.json()["error"]["message"]
    for path in ("/api/orders/o-1", "/api/trending", "/metrics", "/openapi.json", "/docs", "/"):
        assert (await call(prod, path)).status_code == 401, path

    key = reader_key(prod)
    basic = base64.b64encode(f"anyone:{key}".encode()).decode()
    for headers in (
        {"X-API-Key": key},
        {"Authorization": f"Bearer {key}"},
        {"Authorization": f"Basic {basic}"},  # what a browser resends for the page's stream
    ):
        # Past the key: no snapshot yet (no poller runs here), so 503, not 401.
        assert (await call(prod, "/api/snapshot", headers=headers)).status_code == 503


async def test_a_gateway_key_or_a_revoked_reader_key_does_not_read(
    settings: Settings, tmp_path: Path
) -> None:
    prod = make(settings, tmp_path, "production")
    gateway_key = KeyStore(prod.gateway_keys_file).create("shop", types=["order.*"])
    assert (
        await call(prod, "/api/snapshot", headers={"X-API-Key": gateway_key})
    ).status_code == 401
    key = reader_key(prod)
    KeyStore(prod.dashboard_keys_file).revoke("viewer")
    assert (await call(prod, "/api/snapshot", headers={"X-API-Key": key})).status_code == 401


async def test_loopback_reads_without_a_key_only_in_development(
    settings: Settings, tmp_path: Path
) -> None:
    dev = make(settings, tmp_path, "development")
    assert (await call(dev, "/api/snapshot")).status_code == 503  # past the guard
    assert (await call(dev, "/api/snapshot", client=REMOTE)).status_code == 401
    test_env = make(settings, tmp_path, "test")
    assert (await call(test_env, "/api/snapshot")).status_code == 401


async def test_health_and_static_files_need_no_key(settings: Settings, tmp_path: Path) -> None:
    prod = make(settings, tmp_path, "production")
    assert (await call(prod, "/healthz")).status_code == 503  # the poller is not running
    assert (await call(prod, "/readyz")).status_code == 503
    assert (await call(prod, "/static/app.js")).status_code == 200


# -- Host, offsets, answers ------------------------------------------------------------


async def test_an_unknown_host_header_is_refused_in_every_environment(
    settings: Settings, tmp_path: Path
) -> None:
    for environment in ("development", "production"):
        local = make(settings, tmp_path, environment)
        response = await call(local, "/healthz", host="rebound.example")
        assert response.status_code == 400, environment
    dev = make(settings, tmp_path, "development", dashboard_allowed_hosts="dash.example")
    assert (await call(dev, "/api/snapshot", host="dash.example")).status_code == 503
    assert (await call(dev, "/api/snapshot", host="localhost")).status_code == 400


@pytest.mark.parametrize("offset", [10_001, 2**63, 10**30])
async def test_a_huge_offset_is_422_not_a_500(
    settings: Settings, tmp_path: Path, offset: int
) -> None:
    dev = make(settings, tmp_path, "development")
    for path in ("/api/stores/s-1/inventory", "/api/users/u-1/sessions"):
        response = await call(dev, f"{path}?offset={offset}")
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["details"][0]["loc"][-1] == "offset"


async def test_readyz_names_services_and_states_but_no_error_text(
    settings: Settings, tmp_path: Path
) -> None:
    dev = make(settings, tmp_path, "development")
    app = create_app(dev)
    health = {
        "kafka": {"status": "down", "ms": 1.0, "error": "KafkaConnectionError: 10.1.2.3:9092"},
        "postgres": {"status": "up", "ms": 1.0, "error": None},
    }
    await app.state.dashboard.hub.publish(json.dumps({"health": health}).encode())
    transport = httpx.ASGITransport(app, client=LOOPBACK)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.get("/readyz")
    assert response.status_code == 503 and "10.1.2.3" not in response.text
    assert response.json()["error"]["details"] == {"kafka": "down", "postgres": "up"}


# -- the SSE cap -----------------------------------------------------------------------


async def test_streams_beyond_the_cap_get_503_and_a_closed_one_frees_its_slot() -> None:
    release = asyncio.Event()

    async def endless(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await release.wait()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    cap = StreamCap(endless, limit=2)
    sent: list[list[dict[str, Any]]] = []

    async def open_stream() -> None:
        messages: list[dict[str, Any]] = []
        sent.append(messages)

        async def send(message: Any) -> None:
            messages.append(message)

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "path": "/api/stream", "method": "GET", "headers": []}
        await cap(scope, receive, send)

    streams = [asyncio.create_task(open_stream()) for _ in range(2)]
    await asyncio.sleep(0.01)
    assert cap.open == 2
    await open_stream()  # the third: refused at once
    assert sent[2][0]["status"] == 503
    assert (b"retry-after", b"10") in sent[2][0]["headers"]
    release.set()
    await asyncio.gather(*streams)
    assert cap.open == 0 and [m[0]["status"] for m in sent[:2]] == [200, 200]
    release.clear()
    again = asyncio.create_task(open_stream())
    await asyncio.sleep(0.01)
    assert cap.open == 1 and sent[3][0]["status"] == 200
    release.set()
    await again


async def test_the_cap_comes_from_settings(settings: Settings, tmp_path: Path) -> None:
    dev = make(settings, tmp_path, "development", dashboard_max_streams=3)
    app = create_app(dev)
    caps = [m.kwargs["limit"] for m in app.user_middleware if m.cls is StreamCap]
    assert caps == [3]


# -- CSP and local docs, both apps -----------------------------------------------------


async def test_both_apps_send_a_csp_and_serve_swagger_ui_from_local_files(
    settings: Settings, tmp_path: Path
) -> None:
    dev = make(settings, tmp_path, "development")
    apps = {"dashboard": create_app(dev), "gateway": create_gateway(dev)}
    for name, app in apps.items():
        transport = httpx.ASGITransport(app, client=LOOPBACK)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            docs = await http.get("/docs")
            assert docs.status_code == 200, name
            assert "cdn" not in docs.text.lower() and "<script>" not in docs.text
            csp = docs.headers["content-security-policy"]
            assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
            bundle = await http.get("/docs/assets/swagger-ui-bundle.js")
            assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
            assert (await http.get("/docs/init.js")).status_code == 200
            health = await http.get("/healthz")
            assert "style-src 'self';" in health.headers["content-security-policy"]
            assert health.headers["x-content-type-options"] == "nosniff"
