"""The gateway over HTTPS: uvicorn on a real port with a self-signed certificate made for
the test, publishing into the real broker; plain HTTP to the same port gets nothing."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.settings import Settings
from producers.gateway import KeyStore, create_app
from producers.gateway.server import server_config
from producers.publisher import Publisher
from tests.integration.producers.conftest import AUTH, order


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "riverbed-gateway-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "gateway.crt", directory / "gateway.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


@pytest.fixture
async def https_gateway(
    gw_settings: Settings, key_store: KeyStore, pub_topics: dict[str, str], tmp_path: Path
) -> AsyncIterator[tuple[int, Path]]:
    """The gateway served by uvicorn over TLS on a free port: (port, CA file)."""
    cert, key = self_signed(tmp_path)
    tls = gw_settings.model_copy(update={"gateway_tls_certfile": cert, "gateway_tls_keyfile": key})
    app = create_app(tls, publisher=Publisher(tls, topics=pub_topics), keys=key_store)
    config = server_config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ssl_certfile=tls.gateway_tls_certfile,
        ssl_keyfile=tls.gateway_tls_keyfile,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if serving.done():
                    serving.result()  # raises why it could not start
                await asyncio.sleep(0.05)
        port: int = server.servers[0].sockets[0].getsockname()[1]
        yield port, cert
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(serving, timeout=15)


async def test_https_with_the_certificate_as_ca_publishes_and_plain_http_fails(
    https_gateway: tuple[int, Path],
) -> None:
    port, ca = https_gateway
    trust = ssl.create_default_context(cafile=str(ca))
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=trust) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        response = await client.post("/v1/events", json=order(), headers=AUTH)
        assert response.status_code == 202, response.text
        assert response.json()["offset"] >= 0

    # Without the certificate as CA, the client refuses the server...
    async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}") as untrusting:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusting.get("/healthz")
    # ... and plain HTTP to the TLS port gets no HTTP answer at all.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as plain:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await plain.get("/healthz")
