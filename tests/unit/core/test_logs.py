from __future__ import annotations

import json
import logging

import pytest

from core.logs import JsonFormatter, logging_config, uvicorn_log_config
from core.settings import Settings

pytestmark = pytest.mark.unit


def test_json_lines_carry_event_context() -> None:
    record = logging.LogRecord(
        "riverbed.dlq", logging.WARNING, __file__, 1, "dead-lettered %s", ("x",), None
    )
    record.event_id = "5b1e43a0-3c41-4c55-9d0a-5d1f2b7c9e10"
    record.topic = "riverbed.orders"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "dead-lettered x"
    assert line["event_id"] == "5b1e43a0-3c41-4c55-9d0a-5d1f2b7c9e10"
    assert line["topic"] == "riverbed.orders" and line["level"] == "WARNING"
    assert "partition" not in line


def test_format_follows_settings() -> None:
    text = logging_config(Settings(_env_file=None))  # type: ignore[call-arg]
    assert "format" in text["formatters"]["riverbed"]
    js = logging_config(Settings(_env_file=None, log_format="json"), "debug")  # type: ignore[call-arg]
    assert js["formatters"]["riverbed"]["()"] is JsonFormatter
    assert js["root"]["level"] == "DEBUG"


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_http_request_lines_only_at_debug(
    level: str, shown: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging.config

    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    try:
        logging.config.dictConfig(logging_config(Settings(_env_file=None), level))  # type: ignore[call-arg]
        with httpx.Client(transport=httpx.MockTransport(handler)) as client:
            client.get("http://gateway.test/readyz")
        logging.getLogger("riverbed.demo").info("status line")
        err = capsys.readouterr().err
        assert "status line" in err
        assert ("HTTP Request: GET http://gateway.test/readyz" in err) is shown
    finally:
        logging.config.dictConfig(logging_config(Settings(_env_file=None), "WARNING"))  # type: ignore[call-arg]


def test_uvicorns_own_lines_follow_the_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    import logging.config

    import uvicorn

    settings = Settings(_env_file=None, log_format="json")  # type: ignore[call-arg]
    try:
        # uvicorn applies log_config when its Config is made, as the servers do.
        config = uvicorn_log_config(settings, "INFO")
        uvicorn.Config(app=None, log_config=config, log_level="info")
        logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:1")
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/healthz", "1.1", 200
        )
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [(e["logger"], e["msg"]) for e in lines] == [
            ("uvicorn.error", "Uvicorn running on http://127.0.0.1:1"),
            ("uvicorn.access", '127.0.0.1:5 - "GET /healthz HTTP/1.1" 200'),
        ]
    finally:
        logging.config.dictConfig(logging_config(Settings(_env_file=None), "WARNING"))  # type: ignore[call-arg]


def test_uvicorn_keeps_the_level_the_process_chose() -> None:
    import logging.config

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    try:
        logging.config.dictConfig(logging_config(settings, "DEBUG"))  # riverbed -v
        assert uvicorn_log_config(settings)["root"]["level"] == "DEBUG"
        assert uvicorn_log_config(settings, "warning")["root"]["level"] == "WARNING"
    finally:
        logging.config.dictConfig(logging_config(settings, "WARNING"))
