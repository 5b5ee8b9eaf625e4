"""The local stack's role set-up, without a server: names, verifiers and what prints."""

from __future__ import annotations

import base64
import re

import pytest
from pydantic import SecretStr

from core.settings import Settings
from riverbed.stack.postgres import Dsn, Roles, roles, scram_verifier

pytestmark = pytest.mark.unit


def test_roles_are_the_users_of_the_app_and_reader_dsns() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        postgres_dsn=SecretStr("postgresql://app:pw1@db:5432/river"),
        postgres_reader_dsn=SecretStr("postgresql://ro_user:pw2@db:5432/river"),
    )
    assert roles(settings) == Roles(app="app", reader="ro_user")


def test_a_dsn_prints_without_its_password() -> None:
    dsn = Dsn.parse("postgresql://app:Xk3-s3cret@db:5432/river")
    assert dsn.password == "Xk3-s3cret"
    assert "Xk3-s3cret" not in f"{dsn} {dsn!r}"


def test_scram_verifier_has_postgres_format_and_hides_the_password() -> None:
    verifier = scram_verifier("Xk3-s3cret", salt=b"0123456789abcdef")
    match = re.fullmatch(
        r"SCRAM-SHA-256\$4096:(?P<salt>[^$]+)\$(?P<stored>[^:]+):(?P<server>.+)", verifier
    )
    assert match, verifier
    assert base64.b64decode(match["salt"]) == b"0123456789abcdef"
    assert len(base64.b64decode(match["stored"])) == len(base64.b64decode(match["server"])) == 32
    assert "Xk3-s3cret" not in verifier
    assert scram_verifier("Xk3-s3cret") != scram_verifier("Xk3-s3cret")  # fresh salt each time
