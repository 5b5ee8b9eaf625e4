"""The docs name every setting the code reads, and every CLI command."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from riverbed.cli import COMMAND_MODULES

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("doc", ["README.md", ".env.example"])
def test_every_setting_is_documented(doc: str) -> None:
    text = (ROOT / doc).read_text()
    missing = [
        f"RIVERBED_{n.upper()}"
        for n in Settings.model_fields
        if f"RIVERBED_{n.upper()}" not in text
    ]
    assert missing == []


def test_documented_settings_exist() -> None:
    import re

    known = {f"RIVERBED_{n.upper()}" for n in Settings.model_fields}
    for doc in ("README.md", ".env.example", "docker-compose.yml"):
        named = set(re.findall(r"RIVERBED_[A-Z0-9_]+", (ROOT / doc).read_text()))
        assert named <= known, (doc, named - known)


def test_every_cli_command_module_exists() -> None:
    import importlib.util

    assert [n for n, m in COMMAND_MODULES.items() if importlib.util.find_spec(m) is None] == []
