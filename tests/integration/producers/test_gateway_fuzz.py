"""Property-based fuzzing of the gateway from its own OpenAPI document (schemathesis).

The document is the one the app serves (``app.openapi()``, built without any I/O).
Each operation gets generated requests, valid and invalid (the document's examples are
valid events, so the publishing path is reached), sent in-process to a live ASGI app
whose lifespan starts a real publisher writing to per-test topics, once with the
bootstrap key (every type) and once with a key scoped to ``order.*``. Whatever is sent,
the gateway must never answer 5xx, and every answer must be one the document promises:
a documented status code, content type, headers and body; 405s name the allowed
methods; requests without the key are refused.

(``schemathesis.pytest.from_fixture`` would load the document from the live app, but
schemathesis 4.32.5's lazy loader reads ``Node._nodeid``, which pytest 9.2 removed.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import checks

from core.settings import Settings, get_settings
from producers.gateway import KeyStore, create_app
from producers.publisher import Publisher
from tests.integration.producers.conftest import AUTH

# Not positive_data_acceptance: the request schema is deliberately loose (``payload`` is
# any object; its contract depends on ``type``), so schema-valid bodies may be 422s.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.unsupported_method,
    checks.ignored_auth,
    checks.negative_data_rejection,
]


class LiveGateway:
    """The ASGI app schemathesis calls: forwards to the running test's gateway, so the
    document can be loaded at collection while each test brings its own app, topics and
    keys. Schemathesis starts the app's lifespan on first use and ends it after the test.
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            raise RuntimeError("no gateway: the test must use the gateway_app fixture")
        await self.app(scope, receive, send)


LIVE = LiveGateway()
schema = schemathesis.openapi.from_dict(create_app(get_settings()).openapi())
schema.app = LIVE  # what from_asgi sets: requests go in-process, through ASGI
schema.config.update(base_url="http://testserver")


@pytest.fixture
def gateway_app(
    gw_settings: Settings, key_store: KeyStore, pub_topics: dict[str, str]
) -> Iterator[FastAPI]:
    """The gateway of this test, publishing to its topics, behind :data:`LIVE`."""
    publisher = Publisher(gw_settings, topics=pub_topics)
    LIVE.app = create_app(gw_settings, publisher=publisher, keys=key_store)
    try:
        yield LIVE.app
    finally:
        LIVE.app = None


@pytest.fixture(params=["bootstrap", "scoped"])
def api_key(request: pytest.FixtureRequest, key_store: KeyStore) -> dict[str, str]:
    if request.param == "bootstrap":
        return AUTH
    return {"X-API-Key": key_store.create("fuzz", types=["order.*"])}


@pytest.fixture
def seen(api_key: dict[str, str]) -> Iterator[list[tuple[str, int]]]:
    """(operation, status) of every request. The document's examples must have reached
    the publishing path (202) or, for the scoped key and a batch holding a playback
    event, the scope check (403); the bootstrap key is never refused a type."""
    answers: list[tuple[str, int]] = []
    yield answers
    for label in {label for label, _ in answers if label.startswith("POST")}:
        statuses = sorted({status for seen_label, status in answers if seen_label == label})
        scoped = api_key != AUTH
        assert (403 if scoped and label.endswith("/batch") else 202) in statuses, statuses
        assert scoped or 403 not in statuses, statuses


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_5xx_and_every_answer_is_documented(
    case: Any, gateway_app: FastAPI, api_key: dict[str, str], seen: list[tuple[str, int]]
) -> None:
    # A copy: schemathesis adds its own headers to the dict it is given.
    response = case.call_and_validate(headers=dict(api_key), checks=CHECKS)
    seen.append((case.operation.label, response.status_code))
