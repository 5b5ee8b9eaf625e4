"""Logging: plain text for people, or one JSON object per line for log pipelines.

``RIVERBED_LOG_FORMAT=json`` turns every Riverbed process (workers included, through
faust's ``logging_config``) into JSON lines. Fields passed as ``extra`` — ``event_id``,
``event_type``, ``topic``, ``partition``, ``offset``, ``consumer`` — become top-level keys, so a
dead-lettered or failed event can be found by its id. Nothing here ever logs a secret:
DSNs are only shown through ``core.settings.redact_url``.

The HTTP servers (gateway, dashboard) hand :func:`uvicorn_log_config` to uvicorn, so its
own lines (start-up, errors, the access log) take the same format instead of uvicorn's.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from core.settings import Settings

# Libraries that log every HTTP request at INFO: among a command's status lines (the
# demo's readiness probes, the simulator's posts to the gateway) they bury what matters.
# They log from WARNING up, unless the process runs at DEBUG.
QUIET_LIBRARIES = ("httpx", "httpcore")
CONTEXT_FIELDS = ("event_id", "event_type", "topic", "partition", "offset", "consumer", "kind")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# uvicorn's loggers: by default each has a handler and formatter of uvicorn's own.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(settings: Settings, level: str | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary (also handed to faust's Worker)."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    )
    root = (level or settings.log_level).upper()
    # NOTSET: follow the root (and undo an earlier configuration's WARNING).
    quiet_level = "NOTSET" if root == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"riverbed": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "riverbed"}},
        "loggers": {name: {"level": quiet_level} for name in QUIET_LIBRARIES},
        "root": {"level": root, "handlers": ["console"]},
    }


def uvicorn_log_config(settings: Settings, level: str | None = None) -> dict[str, Any]:
    """:func:`logging_config` for ``uvicorn.Config(log_config=...)``: uvicorn's loggers
    lose their own handlers and write through Riverbed's (JSON with
    ``RIVERBED_LOG_FORMAT=json``). uvicorn still sets their levels from ``log_level``.

    uvicorn applies it to the whole process: without ``level``, the root level the
    process already chose (``riverbed -v``: DEBUG) is kept.
    """
    root = logging.getLogger()
    if level is None and root.handlers and root.level != logging.NOTSET:
        level = logging.getLevelName(root.level)
    config = logging_config(settings, level)
    config["loggers"].update(
        {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS}
    )
    return config


def configure(settings: Settings, level: str | None = None) -> None:
    import logging.config

    logging.config.dictConfig(logging_config(settings, level))
