"""Build a worker of one kind from settings: the single place that wires processors."""

from __future__ import annotations

import importlib
from typing import Any

from core.settings import Settings
from processors.kinds import COMMERCE_KINDS, KINDS


def build_worker(settings: Settings, kind: str) -> Any:
    """The worker object for ``kind``: ``await worker.run()`` until ``worker.stop()``."""
    if kind in COMMERCE_KINDS:
        from processors.commerce.worker import CommerceWorker

        return CommerceWorker(settings, kind)
    if kind == "dispatch":
        from processors.dispatch.worker import DispatchWorker

        return DispatchWorker(settings)
    if kind == "viewing":
        module = importlib.import_module("processors.viewing.worker")
        return module.ViewingWorker(settings)
    raise ValueError(f"unknown worker kind {kind!r}; expected one of {', '.join(KINDS)}")
