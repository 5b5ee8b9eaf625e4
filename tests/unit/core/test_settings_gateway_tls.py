"""The gateway's TLS settings come as a pair: a certificate and its key, or neither."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_riverbed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("RIVERBED_")]:
        monkeypatch.delenv(name)


def test_tls_is_off_by_default() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.gateway_tls_certfile is None and s.gateway_tls_keyfile is None


def test_a_certificate_and_its_key_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RIVERBED_GATEWAY_TLS_CERTFILE", "/etc/riverbed/gw.crt")
    monkeypatch.setenv("RIVERBED_GATEWAY_TLS_KEYFILE", "/etc/riverbed/gw.key")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.gateway_tls_certfile == Path("/etc/riverbed/gw.crt")
    assert s.gateway_tls_keyfile == Path("/etc/riverbed/gw.key")


@pytest.mark.parametrize("only", ["gateway_tls_certfile", "gateway_tls_keyfile"])
def test_one_without_the_other_is_refused_naming_both(only: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **{only: Path("/x.pem")})  # type: ignore[call-arg]
    message = str(caught.value)
    assert "RIVERBED_GATEWAY_TLS_CERTFILE" in message and "RIVERBED_GATEWAY_TLS_KEYFILE" in message
