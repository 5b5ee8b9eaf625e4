"""Every file or folder the docs name exists: docs that point at moved code mislead."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
DOCS = ("README.md", "ARCHITECTURE.md", "BENCHMARKS.md", "RELIABILITY.md", "SECURITY.md")
FILE = re.compile(r"[A-Za-z0-9_.\-/]+\.(py|md|toml|yml|yaml|json|lock|properties|xml|sh|txt|cfg)")
# Places that exist only at run time (the data dir, test artifacts, the cache), not in git.
RUNTIME = (".riverbed", "artifacts/", "~", "/", "$", "<")


def named_paths(text: str) -> set[str]:
    """Code-quoted tokens that name a file (by its extension) or a folder (trailing /)."""
    found = set()
    for token in re.findall(r"`([^`\s]+)`", text):
        path = token.split(":")[0].rstrip(",.")  # `file.py:LINE`, `path/file.py:function`
        if path.startswith(RUNTIME) or "*" in path:
            continue
        if FILE.fullmatch(path) or (path.endswith("/") and re.fullmatch(r"[\w.\-/]+", path)):
            found.add(path)
    return found


def exists(path: str, tracked: list[str]) -> bool:
    """At the repository root, or as the tail of a tracked path (``commerce/logic.py``
    in a paragraph about ``processors/``)."""
    if (ROOT / path).exists():
        return True
    tail = path.rstrip("/")
    return any(t == tail or t.endswith("/" + tail) or f"/{tail}/" in f"/{t}" for t in tracked)


def test_every_path_the_docs_name_exists() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    missing = [
        f"{doc}: {path}"
        for doc in DOCS
        for path in sorted(named_paths((ROOT / doc).read_text()))
        if not exists(path, tracked)
    ]
    assert missing == []


def test_the_checker_sees_files_and_folders_and_skips_runtime_places() -> None:
    text = "see `processors/kinds.py:KINDS`, `stores/`, `~/.cache/riverbed`, `.riverbed/x.json`"
    assert named_paths(text) == {"processors/kinds.py", "stores/"}
    assert not exists("processors/viewing/logic.py", ["processors/viewing/sessions.py"])
    assert exists("viewing/sessions.py", ["processors/viewing/sessions.py"])
